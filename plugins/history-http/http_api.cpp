#include "http_api.hpp"

#include "api_responses.hpp"
#include "chat_json.hpp"
#include "chat_upstream.hpp"
#include "history_query.hpp"
#include "host_port.hpp"

#include "auth/bearer_token.hpp"
#include "auth/request_auth.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>

namespace chat::history_http {
namespace {

constexpr std::string_view kPrometheus = "text/plain; version=0.0.4; charset=utf-8";

Route route_of(std::string_view path) {
  if (path == "/history") return Route::History;
  if (path == "/history/senders") return Route::Senders;
  if (path == "/healthz") return Route::Healthz;
  if (path == "/metrics") return Route::Metrics;
  if (path == "/config.json") return Route::Config;
  return Route::Static;
}

// What every response carries, however it came about.
void add_common_headers(Response& response) {
  response.set("X-Content-Type-Options", "nosniff");
  // Links out of the page (and its requests) tell nothing of where they came from.
  response.set("Referrer-Policy", "no-referrer");
  // Whatever the outcome, the answer depends on the Origin: caches must not
  // hand one origin's answer to another.
  if (response.find(http::field::vary) == response.end()) response.set(http::field::vary, "Origin");
}

// 403: the request's token does not open `room`.
Response room_refused(const std::string& room) {
  return json_response(http::status::forbidden, json_error("the token does not grant room '" + room + "'", "room"));
}

// The request a query names, when it reads and its room is one the token
// opens; else the answer to give instead (400 or 403).
template <typename Request>
std::variant<Request, Response> admit(std::variant<Request, QueryError> parsed, const chat::auth::RoomGrant& granted) {
  if (const auto* error = std::get_if<QueryError>(&parsed)) {
    return json_response(http::status::bad_request, json_error(error->message, error->parameter));
  }
  auto request = std::get<Request>(std::move(parsed));
  if (!granted.allows(request.room_id())) return room_refused(request.room_id());
  return request;
}

// {"room":R,"senders":[...],"has_more":b}
std::string senders_body(const std::string& room, const chat::GetRoomSendersResponse& answer) {
  boost::json::object body;
  body["room"] = room;
  auto& senders = body["senders"].emplace_array();
  senders.reserve(static_cast<std::size_t>(answer.sender_ids_size()));
  for (const auto& id : answer.sender_ids()) senders.emplace_back(id);
  body["has_more"] = answer.has_more();
  return boost::json::serialize(body);
}

// The Host header when it is a plain host[:port]; anything else (absent,
// or junk that must not end up in a URL we hand out) is ignored.
std::optional<std::string> usable_host(std::string_view host) {
  if (host.empty() || host.size() > 255 || !is_host_port(host, Letters::any_case)) {
    return std::nullopt;
  }
  return std::string(host);
}

std::string hostname_of(const std::string& authority) {
  if (!authority.empty() && authority.front() == '[') return authority.substr(0, authority.find(']') + 1);
  return authority.substr(0, authority.find(':'));
}

std::string authority_of(const tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

// "scheme://host[:port]" of a URL (its origin, as CSP sources want it).
std::string origin_of(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  return url.substr(0, url.find('/', scheme_end + 3));
}

}  // namespace

std::optional<std::string> refuse_head(const http::request_header<>& head) {
  if (head.find(http::field::transfer_encoding) != head.end()) {
    return head.find(http::field::content_length) != head.end()
               ? "Transfer-Encoding and Content-Length together are refused"
               : "Transfer-Encoding is not accepted (no request here has a body that needs it)";
  }
  if (head.version() >= 11 && head.find(http::field::host) == head.end()) return "HTTP/1.1 requests need a Host header";
  return std::nullopt;
}

std::string content_security_policy(const StaticFile& page, const std::vector<std::string>& connect) {
  const auto join = [](const std::vector<std::string>& sources) {
    std::string out;
    for (const auto& source : sources) out += " " + source;
    return out;
  };
  return "default-src 'self'; script-src 'self'" + join(page.inline_script_hashes) + "; style-src 'self'" +
         join(page.inline_style_hashes) + "; connect-src 'self'" + join(connect) +
         "; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

// One request in progress: what its response needs from the request, and
// what every response gets (CORS, payload framing, metrics) before it goes.
class HttpApi::Exchange {
 public:
  Exchange(const HttpApi& api, const Request& request, Route route, Reply reply)
      : api_(api),
        route_(route),
        started_(std::chrono::steady_clock::now()),
        version_(request.version()),
        keep_alive_(request.keep_alive()),
        head_(request.method() == http::verb::head),
        origin_(request[http::field::origin]),
        origin_allowed_(api.settings_.cors.allows(origin_)),
        if_none_match_(request[http::field::if_none_match]),
        reply_(std::move(reply)) {}

  bool origin_allowed() const { return origin_allowed_; }

  // A JSON answer the client may already hold: tagged (ETag), and a 304
  // without the body when the request's If-None-Match names that tag. A
  // history page changes as messages land in its range, so it is checked
  // again every time (no-cache), and costs no body when it has not.
  Response tagged_json(std::string body) const {
    const auto etag = content_etag(body);
    return tagged_json(std::move(body), etag);
  }
  // With its tag already known.
  Response tagged_json(SharedText body, const std::string& etag) const {
    auto response = etag_matches(if_none_match_, etag) ? make_response(http::status::not_modified, {}, {})
                                                        : json_response(http::status::ok, std::move(body));
    response.set(http::field::etag, etag);
    response.set(http::field::cache_control, "no-cache");
    return response;
  }
  Route route() const { return route_; }

  // `hold`: kept by the connection until the response is written.
  void finish(Response response, std::shared_ptr<const void> hold = nullptr) {
    response.version(version_);
    response.keep_alive(keep_alive_);
    add_common_headers(response);
    if (origin_allowed_) {
      response.set(http::field::access_control_allow_origin, origin_);
      if (response.result() != http::status::no_content) {
        response.set(http::field::access_control_expose_headers, CorsPolicy::kExposedHeaders);
      }
    }
    const auto status = response.result();
    if (status == http::status::no_content || status == http::status::not_modified) {
      response.body().clear();  // no payload, and no Content-Length claiming one
    } else if (head_) {
      response.content_length(response.body().size());
      response.body().clear();
    } else {
      response.prepare_payload();
    }
    api_.metrics_.request_done(route_, response.result_int(), std::chrono::steady_clock::now() - started_);
    reply_(std::move(response), std::move(hold));
  }

 private:
  const HttpApi& api_;
  const Route route_;
  const std::chrono::steady_clock::time_point started_;
  const unsigned version_;
  const bool keep_alive_;
  const bool head_;
  const std::string origin_;
  const bool origin_allowed_;
  const std::string if_none_match_;
  Reply reply_;
};

HttpApi::HttpApi(ApiSettings settings, ChatUpstream& upstream, const WebRoot& web_root, HttpMetrics& metrics,
                 std::shared_ptr<chathost::Metrics> registry, std::shared_ptr<spdlog::logger> log)
    : settings_(std::move(settings)),
      history_budget_(HistoryBudget::make(settings_.history)),
      upstream_(upstream),
      web_root_(web_root),
      metrics_(metrics),
      registry_(std::move(registry)),
      log_(std::move(log)) {}

HttpApi::~HttpApi() { history_budget_->close(); }

void HttpApi::handle(Request request, const tcp::endpoint& local, Reply reply) const {
  const std::string_view target = request.target();
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  const bool origin_form = !path.empty() && path.front() == '/';
  auto exchange = std::make_shared<Exchange>(*this, request, origin_form ? route_of(path) : Route::Other,
                                             std::move(reply));
  log_->debug("{} {}", std::string_view(request.method_string()), chat::auth::redact_access_token(target));

  if (request.method() == http::verb::options) return serve_preflight(request, exchange);
  if (!origin_form) {
    return exchange->finish(json_response(http::status::bad_request, json_error("the request target must be a path")));
  }
  if (request.method() != http::verb::get && request.method() != http::verb::head) {
    const std::string allowed(CorsPolicy::kAllowedMethods);
    auto response =
        json_response(http::status::method_not_allowed, json_error("method not allowed (allowed: " + allowed + ")"));
    response.set(http::field::allow, CorsPolicy::kAllowedMethods);
    return exchange->finish(std::move(response));
  }
  // The metrics listener serves metrics (and health) only; the main one
  // no metrics when they have a listener of their own.
  const auto route = exchange->route();
  if ((settings_.metrics_only && route != Route::Metrics && route != Route::Healthz) ||
      (!settings_.serve_metrics && route == Route::Metrics)) {
    return exchange->finish(json_response(http::status::not_found, json_error("not found")));
  }
  switch (route) {
    case Route::History:
    case Route::Senders: {
      chat::auth::RoomGrant granted;
      if (settings_.token_verifier) {
        auto auth = chat::auth::authenticate_request(*settings_.token_verifier, request[http::field::authorization],
                                                     request.target());
        if (!auth.ok()) return exchange->finish(refusal_for(request, auth));
        granted = std::move(auth.rooms);
      }
      return route == Route::History ? serve_history(query, granted, exchange)
                                     : serve_senders(query, granted, exchange);
    }
    case Route::Healthz: return serve_health(exchange);
    case Route::Metrics: return serve_metrics(exchange);
    case Route::Config: return serve_config(request, local, exchange);
    case Route::Static:
    case Route::Other: return serve_file(request, local, path, exchange);
  }
}

Response HttpApi::refuse_unreadable(http::status status, std::string_view why) const {
  auto response = json_response(status, json_error(why));
  add_common_headers(response);
  response.keep_alive(false);
  response.prepare_payload();
  metrics_.request_done(Route::Other, response.result_int(), {});
  return response;
}

Response HttpApi::refusal_for(const Request& request, const chat::auth::RequestAuth& auth) const {
  log_->debug("{} refused: {}", std::string_view(request.method_string()), auth.error);
  auto response = json_response(static_cast<http::status>(auth.http_status), json_error(auth.error));
  response.set(http::field::www_authenticate, auth.www_authenticate);
  return response;
}

void HttpApi::serve_history(std::string_view query, const chat::auth::RoomGrant& granted,
                            const std::shared_ptr<Exchange>& exchange) const {
  auto admitted = admit(parse_history_query(query), granted);
  if (auto* refusal = std::get_if<Response>(&admitted)) return exchange->finish(std::move(*refusal));
  auto request = std::get<chat::GetChatHistoryRequest>(std::move(admitted));
  // The chat service stops at the same size, so nothing much larger is
  // built, sent or parsed on the way.
  request.set_max_bytes(static_cast<std::uint32_t>(settings_.history.page_bytes));
  when_budget_allows("GetChatHistory", exchange, [this, exchange, request = std::move(request)](auto lease) {
    const auto& recent = settings_.recent_history;
    if (!recent || !recent->covers(request)) return read_history(request, std::move(lease), exchange);
    const std::uint32_t limit = request.limit() == 0 ? kDefaultHistoryLimit : request.limit();
    recent->newest_page(request.room_id(), limit,
                        [this, exchange, request, lease](std::shared_ptr<const RecentHistory::Page> page) {
                          if (!page) return read_history(request, lease, exchange);
                          lease->call_done(page->body.size());
                          // The page's own bytes, shared with every answer that sends it.
                          SharedText body(std::shared_ptr<const std::string>(page, &page->body));
                          exchange->finish(exchange->tagged_json(std::move(body), page->etag), lease);
                        });
  });
}

void HttpApi::read_history(const chat::GetChatHistoryRequest& request, std::shared_ptr<HistoryBudget::Lease> lease,
                           const std::shared_ptr<Exchange>& exchange) const {
  upstream_.get_history(request, [this, exchange, room = request.room_id(), forwards = request.has_after(),
                                  lease = std::move(lease)](const grpc::Status& status,
                                                            const chat::GetChatHistoryResponse& page) {
    if (!status.ok()) return call_failed("GetChatHistory", status, *lease, exchange);
    auto body = history_body(room, page, forwards, settings_.history.page_bytes);
    lease->call_done(body.size());
    exchange->finish(exchange->tagged_json(std::move(body)), lease);
  });
}

void HttpApi::serve_senders(std::string_view query, const chat::auth::RoomGrant& granted,
                            const std::shared_ptr<Exchange>& exchange) const {
  auto admitted = admit(parse_senders_query(query), granted);
  if (auto* refusal = std::get_if<Response>(&admitted)) return exchange->finish(std::move(*refusal));
  auto request = std::get<chat::GetRoomSendersRequest>(std::move(admitted));
  when_budget_allows("GetRoomSenders", exchange, [this, exchange, request = std::move(request)](auto lease) {
    upstream_.get_senders(request, [this, exchange, room = request.room_id(), lease = std::move(lease)](
                                       const grpc::Status& status, const chat::GetRoomSendersResponse& answer) {
      if (!status.ok()) return call_failed("GetRoomSenders", status, *lease, exchange);
      auto body = senders_body(room, answer);
      lease->call_done(body.size());
      exchange->finish(json_response(http::status::ok, std::move(body)), lease);
    });
  });
}

void HttpApi::when_budget_allows(std::string_view call, const std::shared_ptr<Exchange>& exchange,
                                 HistoryBudget::Start start) const {
  // A call and its answer's bytes wait for room in the budget; a request
  // that waits too long is told the service is busy.
  history_budget_->acquire(std::move(start), [this, exchange, call = std::string(call)] {
    metrics_.upstream_error(call, "BUSY");
    auto response = json_response(http::status::service_unavailable,
                                  json_error("history is busy: too many answers under way; try again"));
    response.set(http::field::retry_after, std::to_string(settings_.retry_after.count()));
    exchange->finish(std::move(response));
  });
}

void HttpApi::call_failed(std::string_view call, const grpc::Status& status, HistoryBudget::Lease& lease,
                          const std::shared_ptr<Exchange>& exchange) const {
  lease.call_done(0);
  if (status.error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
    const auto code = code_name(status.error_code());
    metrics_.upstream_error(call, code);
    log_->debug("{} failed: {} {}", call, code, status.error_message());
  }
  exchange->finish(failed_call_response(status, settings_.retry_after));
}

void HttpApi::serve_health(const std::shared_ptr<Exchange>& exchange) const {
  upstream_.check_health([this, exchange](const grpc::Status& status, bool serving) {
    if (serving) return exchange->finish(json_response(http::status::ok, std::string(R"({"status":"ok"})")));
    std::string why = "the chat service is not serving";
    if (!status.ok()) {
      const std::string code(code_name(status.error_code()));
      metrics_.upstream_error("Health.Check", code);
      log_->debug("Health.Check failed: {} {}", code, status.error_message());
      why = "the chat service cannot be reached (" + code + ")";
    }
    boost::json::object body;
    body["status"] = "unavailable";
    body["error"] = why;
    auto response = json_response(http::status::service_unavailable, boost::json::serialize(body));
    response.set(http::field::retry_after, std::to_string(settings_.retry_after.count()));
    exchange->finish(std::move(response));
  });
}

void HttpApi::serve_metrics(const std::shared_ptr<Exchange>& exchange) const {
  auto response = make_response(http::status::ok, kPrometheus, registry_->render_prometheus());
  response.set(http::field::cache_control, "no-store");
  exchange->finish(std::move(response));
}

HttpApi::PublicUrls HttpApi::public_urls(const Request& request, const tcp::endpoint& local) const {
  // The page was loaded from this authority, so history is right here; the
  // WebSocket is on the same host name at the ws-proxy's port, over TLS when
  // the page came over TLS (browsers refuse ws:// from an https:// page, so
  // the proxy of an https history-http serves wss://). Public URLs from the
  // config win (other host names, TLS-terminating proxies, mixed setups).
  // The Host header is the client's to choose: only a name on the allowlist
  // is echoed into a URL, else the address the request came in on.
  std::string authority = authority_of(local);
  if (auto host = usable_host(request[http::field::host])) {
    std::string name = hostname_of(*host);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto& allowed = settings_.allowed_hosts;
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) authority = *host;
  }
  const std::string ws_scheme = settings_.tls ? "wss://" : "ws://";
  const std::string http_scheme = settings_.tls ? "https://" : "http://";
  return PublicUrls{settings_.public_ws_url.empty()
                        ? ws_scheme + hostname_of(authority) + ":" + std::to_string(settings_.ws_port)
                        : settings_.public_ws_url,
                    settings_.public_history_url.empty() ? http_scheme + authority : settings_.public_history_url};
}

void HttpApi::serve_config(const Request& request, const tcp::endpoint& local,
                           const std::shared_ptr<Exchange>& exchange) const {
  const auto urls = public_urls(request, local);
  boost::json::object body;
  body["ws_url"] = urls.ws_url;
  body["history_url"] = urls.history_url;
  // "token": the page must send a bearer token to /history and the WebSocket.
  body["auth"] = settings_.token_verifier ? "token" : "none";
  exchange->finish(json_response(http::status::ok, boost::json::serialize(body)));
}

void HttpApi::serve_file(const Request& request, const tcp::endpoint& local, std::string_view path,
                         const std::shared_ptr<Exchange>& exchange) const {
  const auto file = web_root_.find(path);
  if (!file) return exchange->finish(json_response(http::status::not_found, json_error("not found")));
  const bool unchanged = etag_matches(request[http::field::if_none_match], file->etag);
  auto response = make_response(unchanged ? http::status::not_modified : http::status::ok,
                                unchanged ? std::string_view{} : file->content_type,
                                unchanged ? SharedText{} : SharedText(file->content));
  response.set(http::field::etag, file->etag);
  // Always revalidated (cheap with the ETag): a new page shows at once.
  response.set(http::field::cache_control, "no-cache");
  if (file->content_type.rfind("text/html", 0) == 0) {
    // The page may talk to its own origin, its WebSocket and its history
    // service only, run only its own scripts, and be framed by nobody.
    const auto urls = public_urls(request, local);
    response.set("Content-Security-Policy",
                 content_security_policy(*file, {origin_of(urls.ws_url), origin_of(urls.history_url)}));
  }
  exchange->finish(std::move(response));
}

void HttpApi::serve_preflight(const Request& request, const std::shared_ptr<Exchange>& exchange) const {
  const bool preflight = request.find(http::field::origin) != request.end() &&
                         request.find(http::field::access_control_request_method) != request.end();
  if (!preflight) {
    // A plain OPTIONS (or OPTIONS *): what this server allows.
    auto response = make_response(http::status::no_content, {}, {});
    response.set(http::field::allow, CorsPolicy::kAllowedMethods);
    return exchange->finish(std::move(response));
  }
  if (!exchange->origin_allowed()) {
    return exchange->finish(json_response(http::status::forbidden, json_error("origin not allowed")));
  }
  auto response = make_response(http::status::no_content, {}, {});
  response.set(http::field::access_control_allow_methods, CorsPolicy::kAllowedMethods);
  response.set(http::field::access_control_allow_headers, CorsPolicy::kAllowedHeaders);
  response.set(http::field::access_control_max_age, std::to_string(settings_.cors_max_age.count()));
  response.set(http::field::vary, "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  exchange->finish(std::move(response));
}

}  // namespace chat::history_http
