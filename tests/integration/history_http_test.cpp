// history-http through real host processes and real HTTP clients (Boost.Beast's
// synchronous client, and curl as docs/http-api.md shows it). Most tests run
// the split deployment: grpc-chat in one host process, history-http in
// another, talking over a real gRPC channel; one runs the shipped config
// split over three hosts, one the all-in-one host with every plugin. A
// scripted chat service in the test process gives the answers the real one
// gives only when something is broken. The deployments, metrics and
// tokens are in history_http_deployment_test.cpp; CORS, the page and the
// connections in history_http_page_test.cpp.
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
#include <optional>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

namespace chathost::test {
namespace {

// ---------------------------------------------------------------------------
// GET /history

TEST_F(HistoryHttpWithMessagesTest, HistoryIsTheRoomsMessagesOldestFirstInTheWebSocketJsonMapping) {
  auto page = history("room=h");
  EXPECT_EQ(page.at("room").as_string(), "h");
  EXPECT_EQ(sequences(page), range(1, 10));
  EXPECT_FALSE(page.at("has_more").as_bool());
  // Each message exactly as a WebSocket frame carries it: the chat
  // protocol's JSON mapping of the ChatMessage members of the room received.
  const auto& messages = page.at("messages").as_array();
  for (std::size_t i = 0; i < echoes_.size(); ++i) {
    EXPECT_EQ(messages[i], json::parse(chat::json::encode(echoes_[i].chat_message()))) << i;
  }
  const auto& first = messages[0].as_object();
  EXPECT_EQ(first.at("id").as_string(), "id1");
  EXPECT_EQ(first.at("room_id").as_string(), "h");
  EXPECT_EQ(first.at("sender_id").as_string(), "alice");
  EXPECT_EQ(first.at("content").as_string(), "message 1");
  EXPECT_EQ(first.at("sequence").as_string(), "1");
  EXPECT_EQ(first.at("server_id").as_string(), "h:1");
  EXPECT_TRUE(std::regex_match(std::string(first.at("timestamp").as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")));

  auto empty = history("room=nobody-here");
  EXPECT_EQ(empty.at("room").as_string(), "nobody-here");
  EXPECT_TRUE(empty.at("messages").as_array().empty());
  EXPECT_FALSE(empty.at("has_more").as_bool());
}

TEST_F(HistoryHttpWithMessagesTest, EveryParameterSelectsWhatItSays) {
  // A query, the sequences of the page it gets, and the page's has_more.
  const struct {
    std::string query;
    std::vector<std::string> sequences;
    std::optional<bool> has_more;  // unset: not looked at
  } pages[] = {
      {"room=h&limit=3", range(8, 10), true},
      {"room=h&limit=1", range(10, 10), true},
      {"room=h&limit=1000", range(1, 10), std::nullopt},
      {"room=h&before=4&limit=2", range(2, 3), true},
      {"room=h&before=3", range(1, 2), false},
      {"room=h&after=7", range(8, 10), false},
      {"room=h&after=0&limit=4", range(1, 4), true},  // after=0: from the room's first message
      {"room=h&after=2&before=6", range(3, 5), false},
      {"room=h&user=alice&limit=2&before=9", {"5", "7"}, true},
  };
  for (const auto& expected : pages) {
    const auto page = history(expected.query);
    EXPECT_EQ(sequences(page), expected.sequences) << expected.query;
    if (expected.has_more) {
      EXPECT_EQ(page.at("has_more").as_bool(), *expected.has_more) << expected.query;
    }
  }

  auto page = history("room=h&user=bob");
  EXPECT_EQ(sequences(page), (std::vector<std::string>{"2", "4", "6", "8", "10"}));
  for (const auto& m : page.at("messages").as_array()) EXPECT_EQ(m.as_object().at("sender_id").as_string(), "bob");

  page = history("room=h&user=nobody");
  EXPECT_TRUE(page.at("messages").as_array().empty());

  // Percent-encoding and '+' for spaces, as URLSearchParams writes them;
  // parameters in any order, encoded names too.
  for (const auto* query : {"room=my+room", "room=my%20room", "limit=5&ro%6Fm=my%20room", "room=my+room&"}) {
    page = history(query);
    EXPECT_EQ(page.at("room").as_string(), "my room") << query;
    ASSERT_EQ(page.at("messages").as_array().size(), 1U) << query;
    EXPECT_EQ(page.at("messages").as_array()[0].as_object().at("content").as_string(), "in a room with a space");
  }

  // HEAD: the same headers, no body.
  auto head = request(http_->port("history-http"), http::verb::head, "/history?room=h");
  EXPECT_EQ(head.result_int(), 200U);
  EXPECT_TRUE(head.body().empty());
  const auto full = get(http_->port("history-http"), "/history?room=h");
  EXPECT_EQ(header(head, http::field::content_length), std::to_string(full.body().size()));
}

TEST_F(HistoryHttpWithMessagesTest, AHistoryPageIsTaggedAndA304UntilAMessageLandsInItsRange) {
  const auto port = http_->port("history-http");
  auto first = get(port, "/history?room=h&limit=3");
  ASSERT_EQ(first.result_int(), 200U);
  const std::string etag = header(first, http::field::etag);
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(header(first, http::field::cache_control), "no-cache");

  // The same page again, with its tag: 304, no body; another page's tag
  // does not match.
  auto again = get(port, "/history?room=h&limit=3", {{"If-None-Match", etag}});
  EXPECT_EQ(again.result_int(), 304U);
  EXPECT_TRUE(again.body().empty());
  EXPECT_EQ(header(again, http::field::etag), etag);
  auto older = get(port, "/history?room=h&limit=3&before=5", {{"If-None-Match", etag}});
  EXPECT_EQ(older.result_int(), 200U);
  EXPECT_NE(header(older, http::field::etag), etag);

  // A message acknowledged into the room changes the latest page at once;
  // the older page, whose range it is not in, keeps its tag.
  const std::string older_etag = header(older, http::field::etag);
  ChatStreamClient carol(chat_channel("127.0.0.1", chat_->port("grpc-chat")));
  join_room(carol, "h", "carol");
  send_acked(carol, "h", "carol", {{"c1", "news"}});
  auto changed = get(port, "/history?room=h&limit=3", {{"If-None-Match", etag}});
  ASSERT_EQ(changed.result_int(), 200U);
  EXPECT_NE(header(changed, http::field::etag), etag);
  EXPECT_NE(changed.body().find("news"), std::string::npos);
  EXPECT_EQ(get(port, "/history?room=h&limit=3&before=5", {{"If-None-Match", older_etag}}).result_int(), 304U);
}

// ---------------------------------------------------------------------------
// GET /history/senders

TEST_F(HistoryHttpWithMessagesTest, SendersAreWhoWroteInTheRoomSortedAndLimited) {
  const auto port = http_->port("history-http");
  const auto senders = [&](const std::string& query) {
    auto response = get(port, "/history/senders?" + query);
    EXPECT_EQ(response.result_int(), 200U) << query << ": " << response.body();
    EXPECT_EQ(header(response, http::field::content_type), "application/json");
    EXPECT_EQ(header(response, http::field::cache_control), "no-store");
    return body_json(response);
  };
  EXPECT_EQ(senders("room=h"), json::parse(R"({"room":"h","senders":["alice","bob"],"has_more":false})"));
  EXPECT_EQ(senders("room=h&limit=1"), json::parse(R"({"room":"h","senders":["alice"],"has_more":true})"));
  EXPECT_EQ(senders("room=my%20room"), json::parse(R"({"room":"my room","senders":["alice"],"has_more":false})"));
  EXPECT_EQ(senders("room=empty"), json::parse(R"({"room":"empty","senders":[],"has_more":false})"));

  // A new sender is there at once: carol writes, then the list has her.
  ChatStreamClient carol(chat_channel("127.0.0.1", chat_->port("grpc-chat")));
  join_room(carol, "h", "carol");
  send_acked(carol, "h", "carol", {{"c1", "hi"}});
  EXPECT_EQ(senders("room=h").at("senders"), json::parse(R"(["alice","bob","carol"])"));

  // HEAD like GET, without the body; counted under its own route.
  auto head = request(port, http::verb::head, "/history/senders?room=h");
  EXPECT_EQ(head.result_int(), 200U);
  EXPECT_TRUE(head.body().empty());
  EXPECT_GE(metric(get(port, "/metrics").body(), R"(chat_http_requests_total{route="/history/senders",status="200"})"),
            6);
}

TEST_F(HistoryHttpTest, EveryBadSendersParameterIsRefusedWithA400NamingIt) {
  auto http = http_host(dir_.path(), {});  // no chat service needed: nothing bad reaches it
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "room"},           {"room=", "room"},          {"room=%FF", "room"},
      {"room=" + std::string(129, 'r'), "room"},          {"room=a&room=b", "room"},
      {"room=a&limit=0", "limit"},                        {"room=a&limit=1001", "limit"},
      {"room=a&limit=x", "limit"},                        {"room=a&user=alice", "user"},
      {"room=a&before=5", "before"},
  };
  for (const auto& [query, parameter] : cases) {
    auto response = get(http->port("history-http"), "/history/senders?" + query);
    EXPECT_EQ(response.result_int(), 400U) << query;
    EXPECT_EQ(body_json(response).at("parameter").as_string(), parameter) << query << ": " << response.body();
  }
  auto unknown = body_json(get(http->port("history-http"), "/history/senders?room=a&user=alice"));
  EXPECT_EQ(unknown.at("error").as_string(), "unknown parameter 'user' (known: room, limit, access_token)");
  // The largest limit gets through to the chat service (here: unreachable).
  auto unreachable = get(http->port("history-http"), "/history/senders?room=a&limit=1000");
  EXPECT_EQ(unreachable.result_int(), 503U);
  EXPECT_EQ(header(unreachable, http::field::retry_after), "2");
  EXPECT_EQ(body_json(unreachable), json::parse(R"json({"error":"the chat service is unavailable (UNAVAILABLE)"})json"));
}

TEST_F(HistoryHttpTest, EveryBadParameterIsRefusedWithA400NamingIt) {
  auto http = http_host(dir_.path(), {});  // no chat service needed: nothing bad reaches it
  const std::string long_room(129, 'r');
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "room"},
      {"user=alice", "room"},
      {"room=", "room"},
      {"room", "room"},
      {"room=" + long_room, "room"},
      {"room=%FF", "room"},             // not UTF-8
      {"room=%C0%80", "room"},          // overlong NUL
      {"room=%ED%A0%80", "room"},       // a UTF-16 surrogate
      {"room=%zz", "room"},             // malformed escape
      {"room=%2", "room"},
      {"room=a&room=b", "room"},        // twice
      {"room=a&user=", "user"},
      {"room=a&user=%FF", "user"},
      {"room=a&user=" + long_room, "user"},
      {"room=a&limit=0", "limit"},
      {"room=a&limit=1001", "limit"},
      {"room=a&limit=-1", "limit"},
      {"room=a&limit=abc", "limit"},
      {"room=a&limit=1.5", "limit"},
      {"room=a&limit=", "limit"},
      {"room=a&limit=%2B5", "limit"},   // "+5"
      {"room=a&limit=+5", "limit"},     // " 5"
      {"room=a&limit=99999999999999999999999", "limit"},
      {"room=a&limit=5&limit=6", "limit"},
      {"room=a&before=0", "before"},
      {"room=a&before=abc", "before"},
      {"room=a&before=-1", "before"},
      {"room=a&before=18446744073709551616", "before"},  // 2^64
      {"room=a&before=", "before"},
      {"room=a&after=-1", "after"},
      {"room=a&after=x", "after"},
      {"room=a&after=", "after"},
      {"room=a&after=18446744073709551616", "after"},
      {"room=a&after=5&before=5", "before"},
      {"room=a&after=6&before=5", "before"},
      {"room=a&foo=1", "foo"},
      {"room=a&Room=b", "Room"},
      {"room=a&limt=5", "limt"},
  };
  for (const auto& [query, parameter] : cases) {
    auto response = get(http->port("history-http"), "/history?" + query);
    EXPECT_EQ(response.result_int(), 400U) << query;
    EXPECT_EQ(header(response, http::field::content_type), "application/json") << query;
    auto body = body_json(response);
    EXPECT_EQ(body.at("parameter").as_string(), parameter) << query << ": " << response.body();
    EXPECT_FALSE(body.at("error").as_string().empty()) << query;
  }
  auto missing = body_json(get(http->port("history-http"), "/history"));
  EXPECT_EQ(missing.at("error").as_string(), "room is required");
  auto unknown = body_json(get(http->port("history-http"), "/history?room=a&limt=5"));
  EXPECT_NE(std::string(unknown.at("error").as_string()).find("unknown parameter 'limt'"), std::string::npos);

  // The largest values that are not errors get through to the chat service (here: unreachable).
  EXPECT_EQ(get(http->port("history-http"), "/history?room=a&before=18446744073709551615&after=0").result_int(), 503U);
  EXPECT_EQ(get(http->port("history-http"), "/history?room=" + std::string(128, 'r')).result_int(), 503U);

  // Methods other than GET, HEAD and OPTIONS.
  for (auto method : {http::verb::post, http::verb::put, http::verb::delete_, http::verb::patch}) {
    auto response = request(http->port("history-http"), method, "/history?room=a");
    EXPECT_EQ(response.result_int(), 405U) << method;
    EXPECT_EQ(header(response, http::field::allow), "GET, HEAD, OPTIONS");
  }
}

TEST_F(HistoryHttpTest, AnUnreachableChatServiceIsA503WithRetryAfter) {
  auto http = http_host(dir_.path(), {});  // chat_port: nobody listens there
  auto response = get(http->port("history-http"), "/history?room=a");
  EXPECT_EQ(response.result_int(), 503U);
  EXPECT_EQ(header(response, http::field::content_type), "application/json");
  EXPECT_EQ(header(response, http::field::retry_after), "2");
  EXPECT_EQ(body_json(response), json::parse(R"json({"error":"the chat service is unavailable (UNAVAILABLE)"})json"));

  auto health = get(http->port("history-http"), "/healthz");
  EXPECT_EQ(health.result_int(), 503U);
  EXPECT_EQ(header(health, http::field::retry_after), "2");
  EXPECT_EQ(body_json(health).at("status").as_string(), "unavailable");
  EXPECT_EQ(body_json(health).at("error").as_string(), "the chat service cannot be reached (UNAVAILABLE)");
}

TEST_F(HistoryHttpTest, AChatServiceThatDoesNotAnswerIsA503WhenTheDeadlinePasses) {
  TcpListener black_hole;  // accepts connections, never answers
  auto http = http_host(dir_.path(), {.chat_port = black_hole.port(), .upstream_deadline_ms = 500});
  const auto port = http->port("history-http");
  // The call waits for a connection that never completes: what ends it is
  // the deadline (DEADLINE_EXCEEDED), not a failed connection (UNAVAILABLE).
  HttpConnection waiting(port);
  waiting.write_raw("GET /history?room=a HTTP/1.1\r\nHost: x\r\n\r\n");
  // Meanwhile the server is not stalled: other routes answer.
  EXPECT_EQ(get(port, "/config.json").result_int(), 200U);
  auto response = waiting.read_response();
  EXPECT_EQ(response.result_int(), 503U) << response.body();
  EXPECT_EQ(header(response, http::field::retry_after), "2");
  EXPECT_EQ(body_json(response).at("error").as_string(), "the chat service is unavailable (DEADLINE_EXCEEDED)");
  // The health check has the same deadline.
  auto health = get(port, "/healthz");
  EXPECT_EQ(health.result_int(), 503U);
  EXPECT_EQ(body_json(health).at("error").as_string(), "the chat service cannot be reached (DEADLINE_EXCEEDED)");
  const auto metrics = get(port, "/metrics").body();
  EXPECT_EQ(metric(metrics, R"(chat_http_upstream_errors_total{call="GetChatHistory",code="DEADLINE_EXCEEDED"})"), 1);
  EXPECT_EQ(metric(metrics, R"(chat_http_upstream_errors_total{call="Health.Check",code="DEADLINE_EXCEEDED"})"), 1);
}

TEST_F(HistoryHttpTest, StoppingWithCallsInFlightIsQuickAndClean) {
  TcpListener black_hole;
  auto http = http_host(dir_.path(), {.chat_port = black_hole.port(), .upstream_deadline_ms = 60000});
  std::vector<std::unique_ptr<HttpConnection>> waiting;
  for (int i = 0; i < 5; ++i) {
    waiting.push_back(std::make_unique<HttpConnection>(http->port("history-http")));
    waiting.back()->write_raw("GET /history?room=r" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  waiting.push_back(std::make_unique<HttpConnection>(http->port("history-http")));  // idle, kept alive
  std::this_thread::sleep_for(300ms);
  // The calls have a minute to go: stopping cancels them instead of waiting.
  http->process().signal(SIGTERM);
  EXPECT_EQ(http->process().wait_exit(10s), 0) << http->process().output();
  for (auto& connection : waiting) {
    // Each call was cancelled: its client got a 503 or saw the connection close.
    try {
      auto response = connection->read_response();
      EXPECT_EQ(response.result_int(), 503U);
    } catch (const boost::system::system_error& e) {
      EXPECT_TRUE(e.code() == http::error::end_of_stream || e.code() == net::error::connection_reset) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------
// A chat service that answers as the test says: what history-http asked
// for, and the errors the real one gives only when something is broken.

struct HistoryCall {
  chat::GetChatHistoryRequest request;
  std::chrono::system_clock::time_point deadline;
};

class ScriptedChatService final : public chat::ChatService::Service {
 public:
  // Room "refused": INVALID_ARGUMENT; room "broken": INTERNAL; any other:
  // one message in that room.
  grpc::Status GetChatHistory(grpc::ServerContext* context, const chat::GetChatHistoryRequest* request,
                              chat::GetChatHistoryResponse* response) override {
    {
      std::lock_guard lock(mutex_);
      calls_.push_back({*request, context->deadline()});
    }
    if (request->room_id() == "refused") return {grpc::StatusCode::INVALID_ARGUMENT, "no such room here"};
    if (request->room_id() == "broken") return {grpc::StatusCode::INTERNAL, "the store is broken"};
    auto* message = response->add_messages();
    message->set_id("m1");
    message->set_room_id(request->room_id());
    message->set_sender_id("scripted");
    message->set_content("from the scripted service");
    response->set_has_more(true);
    return grpc::Status::OK;
  }

  std::vector<HistoryCall> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<HistoryCall> calls_;
};

class ScriptedHealth final : public grpc::health::v1::Health::Service {
 public:
  grpc::Status Check(grpc::ServerContext* /*context*/, const grpc::health::v1::HealthCheckRequest* request,
                     grpc::health::v1::HealthCheckResponse* response) override {
    if (request->service() != "chat.ChatService") return {grpc::StatusCode::NOT_FOUND, "unknown service"};
    response->set_status(serving.load() ? grpc::health::v1::HealthCheckResponse::SERVING
                                        : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }
  std::atomic<bool> serving{true};
};

// Both, on a free loopback port of this process.
class ScriptedChatServer {
 public:
  ScriptedChatServer() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&chat);
    builder.RegisterService(&health);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) throw std::runtime_error("the scripted chat service did not start");
  }
  ~ScriptedChatServer() { server_->Shutdown(std::chrono::system_clock::now() + 2s); }
  ScriptedChatServer(const ScriptedChatServer&) = delete;
  ScriptedChatServer& operator=(const ScriptedChatServer&) = delete;

  std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }

  ScriptedChatService chat;
  ScriptedHealth health;

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A GetChatHistoryRequest written in protobuf's text format, as ShortDebugString() prints it.
std::string request_text(const std::string& text) {
  chat::GetChatHistoryRequest request;
  if (!google::protobuf::TextFormat::ParseFromString(text, &request)) throw std::invalid_argument(text);
  return request.ShortDebugString();
}

TEST_F(HistoryHttpTest, TheQueryBecomesAGetChatHistoryCallWithADeadline) {
  ScriptedChatServer service;
  auto http = http_host(dir_.path(), {.chat_port = service.port(), .upstream_deadline_ms = 3000});
  auto page = get(http->port("history-http"), "/history?room=caf%C3%A9+au+lait&user=bob&limit=7&before=90&after=3");
  ASSERT_EQ(page.result_int(), 200U) << page.body();
  EXPECT_EQ(body_json(page), json::parse(R"({"room":"café au lait","messages":[{"id":"m1","room_id":"café au lait",)"
                                         R"("sender_id":"scripted","content":"from the scripted service"}],)"
                                         R"("has_more":true})"));
  ASSERT_EQ(get(http->port("history-http"), "/history?room=r").result_int(), 200U);

  // Field by field; `after` present only when given; max_bytes is max_history_page_bytes.
  const auto calls = service.chat.calls();
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0].request.ShortDebugString(),
            request_text(R"(room_id: "café au lait" sender_id: "bob" limit: 7 before: 90 after: 3 max_bytes: 1048576)"));
  EXPECT_EQ(calls[1].request.ShortDebugString(), request_text(R"(room_id: "r" limit: 50 max_bytes: 1048576)"));
  // Each call has a deadline (gRPC's "none" is the end of time).
  for (const auto& call : calls) EXPECT_LT(call.deadline, std::chrono::system_clock::now() + 1h);
}

TEST_F(HistoryHttpTest, EveryAnswerOfTheChatServiceHasItsHttpStatus) {
  ScriptedChatServer service;
  auto http = http_host(dir_.path(), {.chat_port = service.port()});
  const auto port = http->port("history-http");

  // The chat service refuses the request: the client's mistake, 400 with its reason.
  auto refused = get(port, "/history?room=refused");
  EXPECT_EQ(refused.result_int(), 400U);
  EXPECT_EQ(header(refused, http::field::content_type), "application/json");
  EXPECT_EQ(body_json(refused), json::parse(R"({"error":"no such room here"})"));

  // The chat service fails: 502, and no Retry-After (asking again will not help).
  auto broken = get(port, "/history?room=broken");
  EXPECT_EQ(broken.result_int(), 502U);
  EXPECT_EQ(header(broken, http::field::content_type), "application/json");
  // Its status code only: gRPC's messages may tell internal addresses and files.
  EXPECT_EQ(body_json(broken), json::parse(R"json({"error":"the chat service failed (INTERNAL)"})json"));
  EXPECT_FALSE(has_header(broken, http::field::retry_after));

  // Reachable but not serving (starting, or stopping): /healthz is 503.
  EXPECT_EQ(get(port, "/healthz").result_int(), 200U);
  service.health.serving = false;
  auto health = get(port, "/healthz");
  EXPECT_EQ(health.result_int(), 503U);
  EXPECT_EQ(header(health, http::field::retry_after), "2");
  EXPECT_EQ(body_json(health), json::parse(R"({"status":"unavailable","error":"the chat service is not serving"})"));

  const auto metrics = get(port, "/metrics").body();
  EXPECT_EQ(metric(metrics, R"(chat_http_upstream_errors_total{call="GetChatHistory",code="INTERNAL"})"), 1);
  EXPECT_EQ(metric(metrics, R"(chat_http_requests_total{route="/history",status="400"})"), 1);
  EXPECT_EQ(metric(metrics, R"(chat_http_requests_total{route="/history",status="502"})"), 1);
  EXPECT_EQ(metric(metrics, R"(chat_http_requests_total{route="/healthz",status="503"})"), 1);
}

TEST_F(HistoryHttpTest, AnAnswerThatIsNoMessageIsA502AndAnUnhealthyService) {
  chathost::test::GarbageGrpcServer garbage;
  // No copy of recent messages: its watch stream would be one more caller.
  auto http = http_host(dir_.path(), {.chat_port = garbage.port(), .extra_config = "recent_messages_per_room = 0\n"});

  auto page = get(http->port("history-http"), "/history?room=r");
  EXPECT_EQ(page.result_int(), 502U);
  EXPECT_EQ(body_json(page), json::parse(R"json({"error":"the chat service failed (INTERNAL)"})json"));
  EXPECT_FALSE(has_header(page, http::field::retry_after));

  auto health = get(http->port("history-http"), "/healthz");
  EXPECT_EQ(health.result_int(), 503U);
  EXPECT_EQ(body_json(health), json::parse(R"({"status":"unavailable","error":"the chat service is not serving"})"));
  EXPECT_EQ(garbage.answered(), 2);
}

}  // namespace
}  // namespace chathost::test
