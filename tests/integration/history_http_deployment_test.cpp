// history-http as an operator deploys it, through real host processes:
// /healthz following the chat service, the shipped config split over
// three hosts, the metrics of every plugin, and bearer tokens.
#include "chat.grpc.pb.h"    // from chat_proto
#include "chat_json.hpp"     // from chat_proto
#include "health.grpc.pb.h"  // from chat_proto
#include "auth/jwt.hpp"       // from chat_auth
#include "support/chat_stream_client.hpp"
#include "support/garbage_grpc_server.hpp"
#include "support/host_process.hpp"
#include "support/host_variables.hpp"
#include "support/history_hosts.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

namespace chathost::test {
namespace {

// ---------------------------------------------------------------------------
// /healthz and the split deployment

TEST_F(HistoryHttpTest, HealthzAndHistoryFollowTheChatServiceHostAcrossAStopAndAStart) {
  auto chat = chat_service_host(dir_.path(), free_tcp_port());
  auto http = http_host(dir_.path(), {.chat_port = chat->port("grpc-chat")});
  {
    ChatStreamClient alice(chat_channel("127.0.0.1", chat->port("grpc-chat")));
    join_room(alice, "lobby", "alice");
    send_acked(alice, "lobby", "alice", {{"before-restart", "still here after the restart"}});
  }
  auto health = get(http->port("history-http"), "/healthz");
  EXPECT_EQ(health.result_int(), 200U);
  EXPECT_EQ(health.body(), R"({"status":"ok"})");
  EXPECT_EQ(header(health, http::field::content_type), "application/json");
  EXPECT_EQ(get(http->port("history-http"), "/history?room=lobby").result_int(), 200U);
  const double errors_before = metric(get(http->port("history-http"), "/metrics").body(),
                                      R"(chat_http_upstream_errors_total{call="GetChatHistory",code="UNAVAILABLE"})");

  ASSERT_EQ(chat->stop(), 0);
  EXPECT_TRUE(wait_for_status(http->port("history-http"), "/healthz", 503)) << http->process().output();
  auto down = get(http->port("history-http"), "/history?room=lobby");
  EXPECT_EQ(down.result_int(), 503U);
  EXPECT_EQ(header(down, http::field::retry_after), "2");
  EXPECT_EQ(get(http->port("history-http"), "/healthz").result_int(), 503U);
  const auto metrics = get(http->port("history-http"), "/metrics").body();
  EXPECT_GT(metric(metrics, R"(chat_http_upstream_errors_total{call="GetChatHistory",code="UNAVAILABLE"})"),
            errors_before);
  EXPECT_GE(metric(metrics, R"(chat_http_upstream_errors_total{call="Health.Check",code="UNAVAILABLE"})"), 1);
  // The page, its config and the metrics do not depend on the chat service.
  EXPECT_EQ(get(http->port("history-http"), "/").result_int(), 200U);
  EXPECT_EQ(get(http->port("history-http"), "/config.json").result_int(), 200U);

  chat->start();  // same port, same store
  EXPECT_TRUE(wait_for_status(http->port("history-http"), "/healthz", 200)) << http->process().output();
  auto page = get(http->port("history-http"), "/history?room=lobby");
  ASSERT_EQ(page.result_int(), 200U) << page.body();
  auto messages = body_json(page).at("messages").as_array();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].as_object().at("content").as_string(), "still here after the restart");

  // history-http never noticed anything worth dying for.
  EXPECT_TRUE(http->process().running());
}

// chat-host on the shipped config/chat.toml as docs/deployment.md runs it:
// the plugins picked by --plugins, addresses from the environment (all on
// loopback here), the shipped web root.
std::unique_ptr<TestHost> shipped_config_host(const std::filesystem::path& dir, const std::string& name,
                                              const std::string& plugins, std::map<std::string, std::string> env) {
  return std::make_unique<TestHost>(dir, TestHostOptions{.name = name,
                                                         .args = {"--plugins", plugins},
                                                         .env = std::move(env),
                                                         .config_file = source_dir() / "config" / "chat.toml"});
}

struct BridgeHost {
  std::unique_ptr<TestHost> host;
  std::uint16_t http_port = 0;
  std::uint16_t ws_port = 0;
};

// ws-proxy and history-http, pointed at the chat service by GRPC_HOST and GRPC_PORT.
BridgeHost bridge_host(const std::filesystem::path& dir, const std::string& name, std::uint16_t chat_port) {
  BridgeHost bridge;
  bridge.ws_port = free_tcp_port();  // WS_PORT: where ws-proxy listens, and what /config.json tells the page
  bridge.host = shipped_config_host(dir, name, "ws-proxy,history-http",
                                    {{"GRPC_HOST", "127.0.0.1"},
                                     {"GRPC_PORT", std::to_string(chat_port)},
                                     {"HTTP_HOST", "127.0.0.1"},
                                     {"HTTP_PORT", "0"},
                                     {"WS_HOST", "127.0.0.1"},
                                     {"WS_PORT", std::to_string(bridge.ws_port)}});
  bridge.http_port = bridge.host->port("history-http");
  return bridge;
}

TEST_F(HistoryHttpTest, SplitDeploymentTheChatServiceOnOneHostTheBridgesOnTwoOthers) {
  // Host A: the chat service and its store.
  const auto chat_port = free_tcp_port();
  auto service = shipped_config_host(dir_.path(), "a", "grpc-chat",
                                     {{"GRPC_HOST", "127.0.0.1"}, {"GRPC_PORT", std::to_string(chat_port)}});
  // Hosts B and C: the bridges.
  auto b = bridge_host(dir_.path(), "b", chat_port);
  auto c = bridge_host(dir_.path(), "c", chat_port);

  // A browser loads the page from B: the shipped web client, and the URLs
  // it connects to, B's own.
  auto page = get(b.http_port, "/");
  EXPECT_EQ(page.result_int(), 200U);
  EXPECT_EQ(header(page, http::field::content_type), "text/html; charset=utf-8");
  EXPECT_EQ(page.body(), read_file(source_dir() / "web" / "client.html"));
  auto config = body_json(get(b.http_port, "/config.json"));
  const std::string ws_url = "ws://127.0.0.1:" + std::to_string(b.ws_port);
  EXPECT_EQ(config.at("ws_url").as_string(), ws_url);
  EXPECT_EQ(config.at("history_url").as_string(), "http://127.0.0.1:" + std::to_string(b.http_port));
  // Under a host name of allowed_hosts (the shipped config's: localhost,
  // 127.0.0.1, [::1]), the page gets URLs under that name; under any other
  // (a Host header is the client's to choose), B's own address.
  auto named = body_json(HttpConnection(b.http_port).get("/config.json", {{"Host", "localhost:8081"}}));
  EXPECT_EQ(named.at("ws_url").as_string(), "ws://localhost:" + std::to_string(b.ws_port));
  EXPECT_EQ(named.at("history_url").as_string(), "http://localhost:8081");
  auto other = body_json(HttpConnection(b.http_port).get("/config.json", {{"Host", "chat-b.example.org:8081"}}));
  EXPECT_EQ(other.at("ws_url").as_string(), ws_url);
  EXPECT_EQ(other.at("history_url").as_string(), "http://127.0.0.1:" + std::to_string(b.http_port));

  // Alice chats through B's WebSocket, at the URL B's page was given; A
  // stores the message; the history of B and of C has it.
  ASSERT_EQ(std::string(config.at("ws_url").as_string()), ws_url);
  WsClient alice({.port = b.ws_port, .target = "/?user=alice&room=split"});
  ASSERT_TRUE(alice.wait_for(is_joined("split")));
  alice.send(chat_message("split", "alice", "across three hosts", "s1"));
  ASSERT_TRUE(alice.wait_for(is_message_with_content("across three hosts")));
  for (const auto* bridge : {&b, &c}) {
    auto response = get(bridge->http_port, "/history?room=split");
    ASSERT_EQ(response.result_int(), 200U) << response.body();
    const auto messages = body_json(response).at("messages").as_array();
    ASSERT_EQ(messages.size(), 1U) << response.body();
    EXPECT_EQ(messages[0].as_object().at("content").as_string(), "across three hosts");
    EXPECT_EQ(messages[0].as_object().at("sender_id").as_string(), "alice");
    EXPECT_EQ(messages[0].as_object().at("sequence").as_string(), "1");
    EXPECT_EQ(get(bridge->http_port, "/healthz").result_int(), 200U);
  }

  // Each host's /metrics has the plugins it runs: B's WebSocket client and
  // C's requests; grpc-chat's only on A, which serves no HTTP.
  const auto b_metrics = get(b.http_port, "/metrics").body();
  EXPECT_EQ(metric(b_metrics, "chat_ws_connections"), 1);
  EXPECT_GE(metric(b_metrics, "chat_ws_messages_in_total"), 1);
  EXPECT_EQ(b_metrics.find("chat_messages_stored_total"), std::string::npos);
  const auto c_metrics = get(c.http_port, "/metrics").body();
  EXPECT_EQ(metric(c_metrics, "chat_ws_connections"), 0);
  EXPECT_EQ(metric(c_metrics, R"(chat_http_requests_total{route="/history",status="200"})"), 1);

  alice.close();
  EXPECT_TRUE(alice.wait_closed());
  EXPECT_TRUE(c.host->stop_cleanly());
  EXPECT_TRUE(b.host->stop_cleanly());
  EXPECT_TRUE(service->stop_cleanly());
}

// ---------------------------------------------------------------------------
// /metrics

// Checks `text` against the Prometheus text format 0.0.4: one # TYPE per
// family before its samples, well-formed names and labels, numeric values.
void expect_prometheus_text(const std::string& text) {
  static const std::regex type_line(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped))");
  static const std::string label = R"([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")";
  static const std::regex sample("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{" + label + "(?:," + label +
                                 ")*\\})? ([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?|[-+]Inf|NaN)");
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  std::map<std::string, std::string> types;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (std::regex_match(line, match, type_line)) {
      EXPECT_TRUE(types.emplace(match[1], match[2]).second) << "declared twice: " << line;
      continue;
    }
    if (line.empty() || line.front() == '#') continue;  // # HELP and comments
    ASSERT_TRUE(std::regex_match(line, match, sample)) << "not a sample: " << line;
    const std::string name = match[1];
    static const std::regex histogram_series("(.*)_(bucket|sum|count)");
    std::smatch part;
    const bool declared = types.count(name) == 1 || (std::regex_match(name, part, histogram_series) &&
                                                     types.count(part[1]) == 1 && types.at(part[1]) == "histogram");
    EXPECT_TRUE(declared) << "no # TYPE before " << line;
  }
}

// Polls /metrics until `series` has `value`.
bool wait_for_metric(std::uint16_t port, const std::string& series, double value) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (metric(get(port, "/metrics").body(), series) != value) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

TEST_F(HistoryHttpTest, MetricsCountRequestsAndShowEveryPluginOfTheHost) {
  // All in one host process, as on a developer's laptop: grpc-chat's and
  // ws-proxy's metrics show in history-http's /metrics, all published
  // through the host's metrics API. history-http's chat_host as an
  // exercise's .env has GRPC_HOST: the address grpc-chat listens on, where
  // 0.0.0.0 means this machine.
  const auto chat_port = free_tcp_port();
  auto host = http_host(dir_.path(), {.plugins = {"grpc-chat", "ws-proxy", "history-http"},
                              .chat_host = "0.0.0.0",
                              .chat_port = chat_port,
                              .extra_tables = "[grpc-chat]\nhost = \"127.0.0.1\"\nport = " + std::to_string(chat_port) +
                                              "\nstore = \"memory\"\n\n[ws-proxy]\nhost = \"127.0.0.1\"\nport = 0\n"
                                              "threads = 1\nchat_port = " + std::to_string(chat_port) + "\n"});
  const auto port = host->port("history-http");
  const auto ws_port = host->port("ws-proxy");
  ASSERT_TRUE(wait_for_metric(port, "chat_ws_upstream_available", 1)) << host->process().output();
  // The host's own streams are all up: ws-proxy's two and history-http's watch stream.
  ASSERT_TRUE(wait_for_metric(port, "chat_grpc_streams", 3)) << host->process().output();

  auto scrape = get(port, "/metrics");
  ASSERT_EQ(scrape.result_int(), 200U);
  EXPECT_EQ(header(scrape, http::field::content_type), "text/plain; version=0.0.4; charset=utf-8");
  const auto before = scrape.body();
  expect_prometheus_text(before);
  for (const auto* family :
       {"chat_http_requests_total", "chat_http_request_seconds", "chat_http_upstream_errors_total",
        "chat_messages_stored_total", "chat_store_commit_seconds", "chat_store_failures_total", "chat_grpc_streams",
        "chat_ws_connections", "chat_ws_messages_in_total", "chat_ws_messages_out_total",
        "chat_ws_slow_clients_dropped_total", "chat_ws_upstream_available"}) {
    EXPECT_NE(before.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
  }
  EXPECT_EQ(metric(before, "chat_messages_stored_total"), 0);
  EXPECT_EQ(metric(before, "chat_ws_connections"), 0);
  const double bridge_streams = metric(before, "chat_grpc_streams");

  // Traffic: three messages over gRPC, one over the WebSocket, and requests.
  ChatStreamClient alice(chat_channel("127.0.0.1", chat_port));
  join_room(alice, "m", "alice");
  send_acked(alice, "m", "alice", {{"a", "one"}, {"b", "two"}, {"c", "three"}});
  WsClient carol({.port = ws_port, .target = "/?user=carol&room=m"});
  ASSERT_TRUE(carol.wait_for(is_joined("m")));
  carol.send(chat_message("m", "carol", "four", "d"));
  ASSERT_TRUE(carol.wait_for(is_message_with_content("four")));
  ASSERT_TRUE(alice.wait_for(is_message_with_content("four")));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(get(port, "/history?room=m").result_int(), 200U);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(get(port, "/history?room=m&limit=0").result_int(), 400U);
  ASSERT_EQ(get(port, "/no-such-file").result_int(), 404U);
  ASSERT_EQ(get(port, "/").result_int(), 200U);
  ASSERT_EQ(get(port, "/healthz").result_int(), 200U);
  ASSERT_EQ(get(port, "/config.json").result_int(), 200U);

  const auto after = get(port, "/metrics").body();
  expect_prometheus_text(after);
  auto delta = [&](const std::string& series) { return metric(after, series) - metric(before, series); };
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="/history",status="200"})"), 3);
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="/history",status="400"})"), 2);
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="static",status="404"})"), 1);
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="static",status="200"})"), 1);
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="/healthz",status="200"})"), 1);
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="/config.json",status="200"})"), 1);
  EXPECT_EQ(delta(R"(chat_http_requests_total{route="/metrics",status="200"})"), 1);  // the first scrape
  EXPECT_EQ(delta(R"(chat_http_request_seconds_count{route="/history"})"), 5);
  EXPECT_EQ(delta(R"(chat_http_request_seconds_bucket{route="/history",le="+Inf"})"), 5);
  EXPECT_GT(delta(R"(chat_http_request_seconds_sum{route="/history"})"), 0);
  // grpc-chat.
  EXPECT_EQ(metric(after, "chat_messages_stored_total"), 4);
  EXPECT_GE(metric(after, "chat_store_commit_seconds_count"), 1);
  EXPECT_EQ(metric(after, "chat_store_failures_total"), 0);
  EXPECT_EQ(metric(after, "chat_grpc_streams"), bridge_streams + 1);  // and alice's stream
  // ws-proxy.
  EXPECT_EQ(metric(after, "chat_ws_connections"), 1);
  EXPECT_GE(delta("chat_ws_messages_in_total"), 1);
  EXPECT_GE(delta("chat_ws_messages_out_total"), 2);  // at least carol's joined and her echo
  EXPECT_EQ(metric(after, "chat_ws_slow_clients_dropped_total"), 0);

  // Gauges follow the connections down.
  carol.close();
  ASSERT_TRUE(carol.wait_closed());
  EXPECT_TRUE(wait_for_metric(port, "chat_ws_connections", 0));
  alice.close_sending();
  ASSERT_TRUE(alice.wait_finished());
  EXPECT_TRUE(wait_for_metric(port, "chat_grpc_streams", bridge_streams));

  // Requests refused before routing count under "other".
  HttpConnection big(port);
  auto refused = big.get("/", {{"X-Padding", std::string(9000, 'p')}});
  ASSERT_EQ(refused.result_int(), 431U);
  EXPECT_EQ(metric(get(port, "/metrics").body(), R"(chat_http_requests_total{route="other",status="431"})"), 1);
}


// ---------------------------------------------------------------------------
// Bearer tokens (auth_secret_file)

const std::string kTokenSecret = "a test secret of more than thirty-two bytes";

// The secret as an operator stores it: a line of its own, readable by its owner only.
std::filesystem::path write_secret(const std::filesystem::path& dir, const std::string& secret = kTokenSecret) {
  const auto path = dir / "token-secret";
  write_file(path, secret + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

std::string token_for(const std::string& user, std::chrono::seconds valid_for = 1h,
                      const std::string& secret = kTokenSecret) {
  const auto now = chat::auth::Clock::now();
  return chat::auth::mint_token(secret, user, now + valid_for, now);
}

Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

// Asserts a 401 with a Bearer challenge, an `error` code in it (or none),
// and the same reason in the JSON body.
void expect_unauthorized(const Response& response, const std::string& error_code, const std::string& reason,
                         const std::string& what) {
  EXPECT_EQ(response.result_int(), 401U) << what << ": " << response.body();
  EXPECT_EQ(header(response, http::field::content_type), "application/json") << what;
  const auto challenge = header(response, http::field::www_authenticate);
  EXPECT_EQ(challenge.rfind("Bearer realm=\"chat-host\"", 0), 0U) << what << ": " << challenge;
  if (error_code.empty()) {
    EXPECT_EQ(challenge.find("error="), std::string::npos) << what << ": " << challenge;
  } else {
    EXPECT_NE(challenge.find("error=\"" + error_code + "\""), std::string::npos) << what << ": " << challenge;
    EXPECT_NE(challenge.find("error_description=\"" + reason + "\""), std::string::npos) << what << ": " << challenge;
  }
  if (!reason.empty()) {
    EXPECT_EQ(body_json(response).at("error").as_string(), reason) << what;
  }
}

class HistoryHttpTokenTest : public HistoryHttpTest {
 protected:
  void SetUp() override {
    HistoryHttpTest::SetUp();
    chat_ = chat_service_host(dir_.path(), free_tcp_port());
    ChatStreamClient alice(chat_channel("127.0.0.1", chat_->port("grpc-chat")));
    join_room(alice, "lobby", "alice");
    send_acked(alice, "lobby", "alice", {{"m1", "hello"}});
  }

  std::unique_ptr<TestHost> chat_;
};

TEST_F(HistoryHttpTokenTest, WithASecretHistoryWantsAValidToken) {
  const auto secret = write_secret(dir_.path());
  // debug: the request lines are logged too, and must not show the token.
  auto http = http_host(dir_.path(), {.chat_port = chat_->port("grpc-chat"),
                              .extra_config = "auth_secret_file = " + toml_string(secret) + "\n",
                              .env = {{"CHATHOST_LOG_LEVEL", "debug"}}});
  const auto port = http->port("history-http");
  const std::string target = "/history?room=lobby";

  expect_unauthorized(get(port, target), "",
                      "a bearer token is required (Authorization: Bearer <token>, or access_token=<token>)",
                      "no token");
  expect_unauthorized(get(port, target, bearer("not-a-token")), "invalid_token", "malformed token", "garbage");
  expect_unauthorized(get(port, target, bearer(token_for("alice", 1h, "another secret, just as long as ours"))),
                      "invalid_token", "invalid token signature", "other secret");
  // Expired beyond the default leeway of 30 s.
  const auto expired = token_for("alice", -1min);
  expect_unauthorized(get(port, target, bearer(expired)), "invalid_token", "token expired", "expired header");
  expect_unauthorized(get(port, target + "&access_token=" + expired), "invalid_token", "token expired",
                      "expired query");
  // Two tokens in one request: RFC 6750 allows one method, so 400.
  const auto token = token_for("alice");
  auto twice = get(port, target + "&access_token=" + token, bearer(token));
  EXPECT_EQ(twice.result_int(), 400U) << twice.body();
  EXPECT_NE(header(twice, http::field::www_authenticate).find("error=\"invalid_request\""), std::string::npos);
  // HEAD is guarded like GET.
  EXPECT_EQ(request(port, http::verb::head, target).result_int(), 401U);

  // A valid token, in the header or in the query (as a browser's WebSocket must).
  auto by_header = get(port, target, bearer(token));
  ASSERT_EQ(by_header.result_int(), 200U) << by_header.body();
  EXPECT_EQ(body_json(by_header).at("messages").as_array().size(), 1U);
  auto by_query = get(port, target + "&limit=5&access_token=" + token);
  ASSERT_EQ(by_query.result_int(), 200U) << by_query.body();
  EXPECT_EQ(by_query.body(), by_header.body());
  // The scheme is case-insensitive.
  EXPECT_EQ(get(port, target, {{"Authorization", "bearer " + token}}).result_int(), 200U);
  // Parameters are still checked once the token is.
  EXPECT_EQ(get(port, "/history?room=lobby&limt=5", bearer(token)).result_int(), 400U);

  // The rest stays open: the page must load to ask for a token.
  EXPECT_EQ(get(port, "/").result_int(), 200U);
  EXPECT_EQ(get(port, "/healthz").result_int(), 200U);
  EXPECT_EQ(get(port, "/metrics").result_int(), 200U);
  auto config = get(port, "/config.json");
  ASSERT_EQ(config.result_int(), 200U);
  EXPECT_EQ(body_json(config).at("auth").as_string(), "token");

  // A cross-origin page may send the header and read the refusal.
  auto preflight = request(port, http::verb::options, target,
                           {{"Origin", "https://chat.example.org"}, {"Access-Control-Request-Method", "GET"},
                            {"Access-Control-Request-Headers", "authorization"}});
  EXPECT_EQ(preflight.result_int(), 204U);
  EXPECT_NE(header(preflight, http::field::access_control_allow_headers).find("Authorization"), std::string::npos);
  auto refused = get(port, target, {{"Origin", "https://chat.example.org"}});
  EXPECT_EQ(refused.result_int(), 401U);
  EXPECT_EQ(header(refused, http::field::access_control_allow_origin), "https://chat.example.org");

  EXPECT_EQ(metric(get(port, "/metrics").body(), R"(chat_http_requests_total{route="/history",status="401"})"), 7);

  // Nothing of any token reaches the log, even at debug level.
  EXPECT_NE(http->process().output().find("token authentication on"), std::string::npos) << http->process().output();
  EXPECT_NE(http->process().output().find("access_token=REDACTED"), std::string::npos) << http->process().output();
  for (const auto& presented : {token, expired}) {
    EXPECT_EQ(http->process().output().find(presented.substr(presented.rfind('.'))), std::string::npos);
    EXPECT_EQ(http->process().output().find(presented.substr(0, presented.rfind('.'))), std::string::npos);
  }
  EXPECT_EQ(http->process().output().find(kTokenSecret), std::string::npos);
}

TEST_F(HistoryHttpTokenTest, TheSecretFileComesFromTheEnvironmentToo) {
  const auto secret = write_secret(dir_.path());
  auto http = http_host(dir_.path(), {.chat_port = chat_->port("grpc-chat"),
                              .extra_config = "auth_leeway_seconds = 0\n",
                              .env = {{"AUTH_SECRET_FILE", secret.string()}}});
  EXPECT_EQ(get(http->port("history-http"), "/history?room=lobby").result_int(), 401U);
  EXPECT_EQ(get(http->port("history-http"), "/history?room=lobby", bearer(token_for("bob"))).result_int(), 200U);
  // No leeway: a token expired a second ago is refused.
  expect_unauthorized(get(http->port("history-http"), "/history?room=lobby", bearer(token_for("bob", -1s))), "invalid_token",
                      "token expired", "no leeway");
}

TEST_F(HistoryHttpTokenTest, ATokenFromChatTokenOpensHistory) {
  const auto secret = write_secret(dir_.path());
  auto http = http_host(dir_.path(), {.chat_port = chat_->port("grpc-chat"), .env = {{"AUTH_SECRET_FILE", secret.string()}}});
  HostProcess tool({.executable = CHAT_TOKEN_BINARY,
                    .args = {"--secret-file", secret.string(), "--sub", "carol", "--ttl", "60"},
                    .working_dir = dir_.path()});
  ASSERT_EQ(tool.wait_exit(), 0) << tool.output();
  auto token = tool.output(Stream::Stdout);
  ASSERT_EQ(token.back(), '\n');  // one line
  token.pop_back();
  ASSERT_EQ(std::count(token.begin(), token.end(), '.'), 2) << token;
  EXPECT_EQ(get(http->port("history-http"), "/history?room=lobby", bearer(token)).result_int(), 200U);
  const auto check = chat::auth::TokenVerifier(kTokenSecret).verify(token);
  EXPECT_EQ(check.subject, "carol");
  ASSERT_TRUE(check.expires_at);
  EXPECT_LE(*check.expires_at, chat::auth::Clock::now() + 60s + chat::auth::kDefaultLeeway);

  // Refusals: a secret file it cannot use, a subject the bridges would refuse.
  HostProcess missing({.executable = CHAT_TOKEN_BINARY,
                       .args = {"--secret-file", (dir_ / "nothing").string(), "--sub", "carol"}});
  EXPECT_EQ(missing.wait_exit(), 1);
  EXPECT_NE(missing.output().find("cannot read the secret file"), std::string::npos) << missing.output();
  HostProcess long_sub({.executable = CHAT_TOKEN_BINARY,
                        .args = {"--secret-file", secret.string(), "--sub", std::string(129, 'u')}});
  EXPECT_EQ(long_sub.wait_exit(), 2);
  EXPECT_TRUE(long_sub.output(Stream::Stdout).empty());
}

TEST_F(HistoryHttpTokenTest, WithoutASecretHistoryNeedsNoToken) {
  auto http = http_host(dir_.path(), {.chat_port = chat_->port("grpc-chat")});
  EXPECT_EQ(get(http->port("history-http"), "/history?room=lobby").result_int(), 200U);
  // A page that has a token sends it anyway: accepted and ignored.
  EXPECT_EQ(get(http->port("history-http"), "/history?room=lobby&access_token=whatever", bearer("whatever")).result_int(), 200U);
  EXPECT_EQ(body_json(get(http->port("history-http"), "/config.json")).at("auth").as_string(), "none");
  EXPECT_EQ(http->process().output().find("token authentication on"), std::string::npos);
}

TEST_F(HistoryHttpTest, AnUnusableSecretFileStopsTheHostBeforeItListens) {
  write_file(dir_ / "short-secret", std::string(31, 's') + "\n");
  const auto missing = dir_ / "no-such-secret";
  struct Case {
    std::string line;                        // in [history-http]
    std::map<std::string, std::string> env;  //
    std::string expected;                    // in the output
  };
  const std::vector<Case> cases{
      {"auth_secret_file = " + toml_string(missing), {}, "cannot read the secret file " + missing.string()},
      {"auth_secret_file = " + toml_string(dir_ / "short-secret"), {}, "is 31 bytes; at least 32 are needed"},
      {"auth_secret_file = " + toml_string(dir_.path()), {}, "is not a regular file"},
      {"", {{"AUTH_SECRET_FILE", missing.string()}}, "environment variable AUTH_SECRET_FILE: [history-http]"},
      {"auth_leeway_seconds = 301", {}, "[history-http] auth_leeway_seconds"},
  };
  for (const auto& c : cases) {
    const auto host = start_on_bad_config(
        dir_.path(), "[host]\nplugins = [\"history-http\"]\n\n[history-http]\nport = 0\n" + c.line + "\n", c.env);
    EXPECT_EQ(host->wait_exit(), 1) << c.line;
    EXPECT_NE(host->output().find(c.expected), std::string::npos) << host->output();
    if (c.line.find("auth_secret_file") != std::string::npos) {
      EXPECT_NE(host->output().find("[history-http] auth_secret_file: "), std::string::npos) << host->output();
    }
    EXPECT_EQ(host->output().find("ready in"), std::string::npos) << host->output();
  }
}

}  // namespace
}  // namespace chathost::test
