// history-http: the HTTP face of the chat system as a chat-host plugin.
// Message history with CORS, the web client, health and metrics, over one
// Beast HTTP/1.1 server; history and health come from grpc-chat over a real
// gRPC channel, in this host process or another. docs/http-api.md is the
// reference for clients.
#include "chat_upstream.hpp"
#include "cors_policy.hpp"
#include "http_api.hpp"
#include "http_metrics.hpp"
#include "host_port.hpp"
#include "http_server.hpp"
#include "recent_history.hpp"
#include "room_watch.hpp"
#include "web_root.hpp"

#include "auth/auth_config.hpp"
#include "bridge/bridge_config.hpp"
#include "limits/connection_config.hpp"
#include "net/chat_nodes.hpp"
#include "net/listen_address.hpp"
#include "net/open_listener.hpp"
#include "service_auth/service_auth_config.hpp"
#include "tls/ssl_context.hpp"
#include "tls/tls_config.hpp"

#include <chathost/plugin.hpp>

#include <algorithm>
#include <cctype>
#include <optional>
#include <filesystem>

namespace {

using chathost::ConfigKey;
using namespace chat::history_http;

bool starts_with_any(const std::string& text, std::initializer_list<std::string_view> prefixes) {
  for (auto prefix : prefixes) {
    if (text.rfind(prefix, 0) == 0 && text.size() > prefix.size()) return true;
  }
  return false;
}

class HistoryHttpPlugin final : public chathost::Plugin {
 public:
  std::string_view name() const override { return "history-http"; }

  std::vector<ConfigKey> config_keys() const override {
    auto keys = chat::net::listen_config_keys("HTTP", 8081,
                                              "address to listen on; beyond loopback, allowed_origins = [\"*\"] "
                                              "needs tokens (auth_secret_file) or [host] insecure");
    std::vector<ConfigKey> http_keys{
        ConfigKey::integer("upstream_deadline_ms", 3000, "deadline of each call to the chat service")
            .range(50, 600000),
        ConfigKey::string("web_root", "", "directory served at / (client.html and assets); empty: the shipped web/")
            .env("HTTP_WEB_ROOT"),
        ConfigKey::strings("allowed_origins", {"*"},
                           "origins whose pages may read responses (CORS): exact origins, \"null\" for file:// "
                           "pages, \"*\" for any")
            .env("HTTP_ALLOWED_ORIGINS"),
        ConfigKey::integer("cors_max_age_seconds", 600, "how long browsers may cache a preflight answer")
            .range(0, 86400)
            .into(&ApiSettings::cors_max_age),
        ConfigKey::string("public_ws_url", "",
                          "WebSocket URL given to the page in /config.json; empty: ws://<host the page came "
                          "from>:<ws_port> (wss:// when this server has TLS)")
            .env("PUBLIC_WS_URL")
            .into(&ApiSettings::public_ws_url),
        ConfigKey::string("public_history_url", "",
                          "history URL given to the page in /config.json; empty: http://<host:port the page came "
                          "from> (https:// when this server has TLS)")
            .env("PUBLIC_HISTORY_URL")
            .into(&ApiSettings::public_history_url),
        ConfigKey::integer("ws_port", 8080, "port of the WebSocket bridge (ws-proxy), for the derived ws_url")
            .range(1, 65535)
            .env("WS_PORT")
            .into(&ApiSettings::ws_port),
        ConfigKey::integer("threads", 2, "threads serving HTTP").range(1, 256),
        ConfigKey::integer("request_timeout_ms", 10000, "longest time to read a request, and to write its response")
            .range(100, 600000)
            .into(&ConnectionLimits::request_timeout),
        ConfigKey::integer("idle_timeout_ms", 30000, "how long a kept-alive connection may wait for its next request")
            .range(100, 3600000)
            .into(&ConnectionLimits::idle_timeout),
        ConfigKey::integer("max_body_bytes", 64 * 1024, "largest request body accepted (larger: 413)")
            .range(0, 64 << 20)
            .into(&ConnectionLimits::body_limit),
        ConfigKey::integer("max_history_calls", 32,
                           "history calls to the chat service under way at once; more wait (backpressure)")
            .range(1, 100000)
            .into(&HistoryBudget::Limits::max_calls),
        ConfigKey::integer("max_history_bytes_in_flight", 64 << 20,
                           "bytes of history answers being built or written at once; more requests wait")
            .range(64 << 10, INT64_C(64) << 30)
            .into(&HistoryBudget::Limits::max_bytes),
        ConfigKey::integer("max_history_page_bytes", 1 << 20,
                           "most bytes one history answer carries (about): a longer page ends early with "
                           "has_more")
            .range(16 << 10, 256 << 20)
            .into(&HistoryBudget::Limits::page_bytes),
        ConfigKey::integer("history_wait_ms", 10000,
                           "how long a history request may wait for room before it is answered 503")
            .range(0, 600000)
            .into(&HistoryBudget::Limits::max_wait),
        ConfigKey::integer("recent_messages_per_room", 200,
                           "newest messages of each room read lately kept in a never-stale copy, kept current "
                           "from the chat service's stream; the newest page of up to this many is answered from "
                           "it. 0: none, every page is read from the chat service")
            .range(0, 100000)
            .into(&RecentHistory::Limits::room_messages),
        ConfigKey::integer("recent_bytes", 64 << 20,
                           "bytes the copy of recent messages may take, every room together (about); the rooms "
                           "read least lately go first")
            .range(64 << 10, INT64_C(64) << 30)
            .into(&RecentHistory::Limits::max_bytes),
        ConfigKey::strings("allowed_hosts", {"localhost", "127.0.0.1", "[::1]"},
                           "Host header names (any port) /config.json may build the page's URLs from when "
                           "public_ws_url / public_history_url are empty; another Host gets the listening address")
            .into(&ApiSettings::allowed_hosts),
        ConfigKey::string("metrics_host", "127.0.0.1", "address of the metrics listener (with metrics_port)")
            .env("HTTP_METRICS_HOST"),
        ConfigKey::integer("metrics_port", -1,
                           "-1: /metrics on the main port; else a listener of its own on metrics_host:metrics_port "
                           "(0: any free port) serving /metrics and /healthz only, and none on the main port")
            .range(-1, 65535)
            .env("HTTP_METRICS_PORT"),
    };
    for (auto& key : http_keys) keys.push_back(std::move(key));
    chat::bridge::append_bridge_config_keys(
        keys, {.chat_node_failover = "a call one cannot take goes to the next",
               .max_connections = 1000,
               .max_connections_per_address = 64,
               .tls_env_prefix = "HTTP",
               .tls_serves = "the HTTP port (https://)",
               .service_token_use = "presented to the chat service on every call; empty: this host's own secret "
                                    "(enough for a grpc-chat in the same host)"});
    return keys;
  }

  void configure(chathost::PluginContext ctx) override {
    ctx_ = std::move(ctx);
    const auto& config = ctx_.config;
    if (!ctx_.metrics) throw std::logic_error("the host gave history-http no metrics registry");
    const auto keys = config_keys();
    config.apply(keys, api_settings_);
    config.apply(keys, api_settings_.history);
    config.apply(keys, limits_);
    config.apply(keys, recent_limits_);
    recent_limits_.page_bytes = api_settings_.history.page_bytes;

    boost::system::error_code ec;
    listen_address_ = net::ip::make_address(config.get_string("host"), ec);
    if (ec) config.reject("host", "expected an IP address, got \"" + config.get_string("host") + "\"");
    port_ = static_cast<unsigned short>(config.get_int("port"));

    auto nodes = chat::net::parse_chat_nodes(config.get_string("chat_host"),
                                             static_cast<std::uint16_t>(config.get_int("chat_port")));
    if (!nodes.error.empty()) config.reject("chat_host", nodes.error);
    upstream_targets_ = std::move(nodes.targets);
    upstream_deadline_ = std::chrono::milliseconds(config.get_int("upstream_deadline_ms"));
    upstream_security_ = chat::tls::load_channel_security(config);
    upstream_security_.service_token = chat::service_auth::load_bridge_token(ctx_);
    tls_ = chat::tls::load_server_ssl_context(config);

    const std::string web_root = config.get_string("web_root");
    web_root_path_ = web_root.empty() ? std::filesystem::path(ctx_.share_dir) / "web" : std::filesystem::path(web_root);

    const auto origins = config.get_strings("allowed_origins");
    for (const auto& origin : origins) {
      if (auto why = CorsPolicy::check_entry(origin); !why.empty()) config.reject("allowed_origins", why);
    }
    api_settings_.cors = CorsPolicy(origins);
    if (!api_settings_.public_ws_url.empty() && !starts_with_any(api_settings_.public_ws_url, {"ws://", "wss://"})) {
      config.reject("public_ws_url", "expected a ws:// or wss:// URL, or nothing");
    }
    if (!api_settings_.public_history_url.empty() &&
        !starts_with_any(api_settings_.public_history_url, {"http://", "https://"})) {
      config.reject("public_history_url", "expected an http:// or https:// URL, or nothing");
    }
    api_settings_.token_verifier = chat::auth::load_token_verifier(config, *ctx_.logger);
    api_settings_.tls = tls_ != nullptr;
    for (auto& host : api_settings_.allowed_hosts) {
      std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      // A name or an IPv4 address, or an IPv6 one in brackets: no scheme, no port.
      const bool has_port = host.empty() || (host.front() == '[' ? host.back() != ']' : host.find(':') != std::string::npos);
      if (has_port || !is_host_port(host, Letters::lowercase)) {
        config.reject("allowed_hosts", "\"" + host + "\" is not a host name (no scheme, no port)");
      }
    }
    const auto metrics_port = config.get_int("metrics_port");
    if (metrics_port >= 0) {
      boost::system::error_code metrics_ec;
      metrics_address_ = net::ip::make_address(config.get_string("metrics_host"), metrics_ec);
      if (metrics_ec) config.reject("metrics_host", "expected an IP address, got \"" + config.get_string("metrics_host") + "\"");
      metrics_port_ = static_cast<unsigned short>(metrics_port);
      api_settings_.serve_metrics = false;
    }
    chat::net::check_open_listener(ctx_, origins, api_settings_.token_verifier != nullptr, "read any room's history");

    threads_ = static_cast<std::size_t>(config.get_int("threads"));
    if (api_settings_.history.page_bytes > api_settings_.history.max_bytes) {
      config.reject("max_history_page_bytes", "must be at most max_history_bytes_in_flight");
    }
    const auto connections = chat::limits::load_connection_limits(config, *ctx_.logger);
    limits_.max_connections = connections.total;
    limits_.max_connections_per_address = connections.per_address;

    // Registered now, so that the series exist (at zero) from the first scrape.
    metrics_ = std::make_unique<HttpMetrics>(*ctx_.metrics);
  }

  void start() override {
    upstream_ = std::make_unique<ChatUpstream>(upstream_targets_, upstream_security_, upstream_deadline_, ctx_.logger);
    if (recent_limits_.room_messages > 0) start_recent_history();
    web_root_ = std::make_unique<WebRoot>(web_root_path_);
    api_ = std::make_unique<HttpApi>(api_settings_, *upstream_, *web_root_, *metrics_, ctx_.metrics, ctx_.logger);
    try {
      server_ = std::make_unique<HttpServer>(tcp::endpoint(listen_address_, port_), threads_, *api_, limits_, tls_,
                                             ctx_.logger);
    } catch (...) {
      stop_parts();
      throw;
    }
    server_->start();
    if (metrics_port_) {
      ApiSettings metrics_settings = api_settings_;
      metrics_settings.serve_metrics = true;
      metrics_settings.metrics_only = true;
      metrics_api_ = std::make_unique<HttpApi>(metrics_settings, *upstream_, *web_root_, *metrics_, ctx_.metrics,
                                               ctx_.logger);
      try {
        // Plain HTTP, one thread: for a scraper on a private address.
        metrics_server_ = std::make_unique<HttpServer>(tcp::endpoint(metrics_address_, *metrics_port_), 1,
                                                       *metrics_api_, limits_, nullptr, ctx_.logger);
      } catch (...) {
        stop_parts();
        throw;
      }
      metrics_server_->start();
      ctx_.logger->info("serving /metrics and /healthz on http://{}", describe(metrics_server_->local_endpoint()));
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(web_root_->path() / "client.html", ec)) {
      ctx_.logger->warn("no client.html in the web root {}: GET / answers 404", web_root_->path().string());
    }
    ctx_.logger->info(
        "serving history, page, health{} on {} (chat service at {}, {}; web root {}, tokens {})",
        metrics_port_ ? "" : " and metrics", endpoints().front(), chat::net::describe_chat_nodes(upstream_targets_), upstream_security_.describe(), web_root_->path().string(),
        api_settings_.token_verifier ? "required for /history" : "off");
  }

  void stop() override {
    stop_parts();
    ctx_.logger->info("stopped");
  }

  std::vector<std::string> endpoints() const override {
    const tcp::endpoint endpoint = server_ ? server_->local_endpoint() : tcp::endpoint(listen_address_, port_);
    std::vector<std::string> out{(tls_ ? "https://" : "http://") + describe(endpoint)};
    if (metrics_server_) out.push_back("metrics http://" + describe(metrics_server_->local_endpoint()));
    return out;
  }

 private:
  // In dependency order: calls to the chat service end first (their answers
  // go to connections still served), then the connections and threads, then
  // what they used.
  static std::string describe(const tcp::endpoint& endpoint) {
    return chat::net::host_port(endpoint.address().to_string(), endpoint.port());
  }

  // The copy of recent messages and the stream that keeps it: its loads are
  // history calls, like a request's.
  void start_recent_history() {
    ChatUpstream& upstream = *upstream_;
    RecentHistory::Service service;
    service.send = [this](const chat::ChatStream& frame) { return room_watch_->send(frame); };
    service.load = [&upstream, page_bytes = recent_limits_.page_bytes](
                       const std::string& room, std::uint32_t limit, RecentHistory::LoadDone done) {
      chat::GetChatHistoryRequest request;
      request.set_room_id(room);
      request.set_limit(limit);
      request.set_max_bytes(static_cast<std::uint32_t>(page_bytes));
      upstream.get_history(request, [done = std::move(done)](const grpc::Status& status,
                                                             const chat::GetChatHistoryResponse& page) {
        done(status.ok() ? &page : nullptr);
      });
    };
    constexpr std::string_view pages_help = "newest history pages, by where they were answered from";
    RecentHistory::Counters counters{
        .from_copy = &ctx_.metrics->counter("chat_history_recent_pages_total", pages_help, {{"from", "copy"}}),
        .from_service =
            &ctx_.metrics->counter("chat_history_recent_pages_total", pages_help, {{"from", "chat_service"}}),
        .reloads = &ctx_.metrics->counter("chat_history_recent_reloads_total",
                                          "rooms of the recent copy read again after a gap on the watch stream"),
    };
    api_settings_.recent_history = std::make_shared<RecentHistory>(recent_limits_, std::move(service), counters);
    room_watch_ = std::make_unique<RoomWatch>(upstream, *api_settings_.recent_history, ctx_.logger);
    room_watch_->start();
  }

  void stop_parts() {
    // The copy first: requests waiting on it go on to the chat service.
    if (room_watch_) room_watch_->stop();
    if (upstream_) upstream_->shutdown();
    if (metrics_server_) metrics_server_->stop();
    if (server_) server_->stop();
    metrics_server_.reset();
    server_.reset();
    metrics_api_.reset();
    api_.reset();
    web_root_.reset();
    room_watch_.reset();
    api_settings_.recent_history.reset();
    upstream_.reset();
  }

  chathost::PluginContext ctx_;
  net::ip::address listen_address_;
  unsigned short port_ = 0;
  std::vector<std::string> upstream_targets_;  // "host:port" of each chat node
  std::chrono::milliseconds upstream_deadline_{3000};
  chat::tls::ChannelSecurity upstream_security_;
  // Set: https:// only (tls_cert_file, tls_key_file).
  std::shared_ptr<net::ssl::context> tls_;
  std::filesystem::path web_root_path_;
  ApiSettings api_settings_;
  ConnectionLimits limits_;
  RecentHistory::Limits recent_limits_;
  std::size_t threads_ = 2;

  std::unique_ptr<HttpMetrics> metrics_;
  std::unique_ptr<ChatUpstream> upstream_;
  std::unique_ptr<RoomWatch> room_watch_;  // with recent_messages_per_room > 0
  std::unique_ptr<WebRoot> web_root_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<HttpServer> server_;
  // metrics_port set: /metrics and /healthz on a listener of their own.
  net::ip::address metrics_address_;
  std::optional<unsigned short> metrics_port_;
  std::unique_ptr<HttpApi> metrics_api_;
  std::unique_ptr<HttpServer> metrics_server_;
};

}  // namespace

CHATHOST_PLUGIN(HistoryHttpPlugin)
