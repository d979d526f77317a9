// history-http through real host processes and real HTTP clients (Boost.Beast's
// synchronous client, and curl as docs/http-api.md shows it). Most tests run
// the split deployment: grpc-chat in one host process, history-http in
// another, talking over a real gRPC channel; one runs the shipped config
// split over three hosts, one the all-in-one host with every plugin. A
// scripted chat service in the test process gives the answers the real one
// gives only when something is broken.
#include "chat.grpc.pb.h"    // from chat_proto
#include "chat_json.hpp"     // from chat_proto
#include "health.grpc.pb.h"  // from chat_proto
#include "auth/jwt.hpp"       // from chat_auth
#include "support/chat_stream_client.hpp"
#include "support/garbage_grpc_server.hpp"
#include "support/host_process.hpp"
#include "support/host_variables.hpp"
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

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kSecret = "TOP SECRET, outside the web root";

std::string toml_string(const std::filesystem::path& path) { return "\"" + path.string() + "\""; }

// ---------------------------------------------------------------------------
// Host processes

// grpc-chat alone in its host process, on a port the test chose so that a
// restart comes back at the same address. SQLite store, so messages survive it.
std::unique_ptr<TestHost> chat_service_host(const std::filesystem::path& dir, std::uint16_t port) {
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = "chat-service",
                           .plugins = {"grpc-chat"},
                           .tables = "[grpc-chat]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) +
                                     "\nstore = \"sqlite\"\nsync = \"normal\"\nstore_path = " +
                                     toml_string(dir / "chat-service" / "data" / "chat.db") + "\n"});
}

struct HttpHostOptions {
  std::vector<std::string> plugins{"history-http"};
  std::string chat_host = "127.0.0.1";
  std::uint16_t chat_port = 0;  // 0: a port nobody listens on
  int upstream_deadline_ms = 2000;
  std::string extra_config{};   // more lines of [history-http]
  std::string extra_tables{};   // more tables, e.g. [grpc-chat]
  std::map<std::string, std::string> env{};
};

// A host process running history-http (alone, or with grpc-chat) on a free
// port, serving the test's web root of fixtures (`dir`/web).
std::unique_ptr<TestHost> http_host(const std::filesystem::path& dir, HttpHostOptions options) {
  static int sequence = 0;
  const auto chat_port = options.chat_port != 0 ? options.chat_port : free_tcp_port();
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = "http-" + std::to_string(sequence++),
                           .plugins = options.plugins,
                           .tables = "[history-http]\nhost = \"127.0.0.1\"\nport = 0\nchat_host = \"" +
                                     options.chat_host + "\"\nchat_port = " + std::to_string(chat_port) +
                                     "\nweb_root = " + toml_string(dir / "web") + "\nupstream_deadline_ms = " +
                                     std::to_string(options.upstream_deadline_ms) + "\n" + options.extra_config +
                                     "\n" + options.extra_tables,
                           .env = options.env});
}

// The web root every test serves, and a file outside it that must never be served.
void write_web_fixtures(const std::filesystem::path& dir) {
  write_file(dir / "secret.txt", kSecret);
  write_file(dir / "web" / "client.html", "<!doctype html><title>chat</title><p>fixture page</p>\n");
  write_file(dir / "web" / "assets" / "app.js", "console.log('fixture');\n");
  write_file(dir / "web" / "assets" / "style.css", "body { color: black; }\n");
  write_file(dir / "web" / "logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
  write_file(dir / "web" / "notes.txt", "plain text\n");
  write_file(dir / "web" / "data.bin", std::string("\x01\x02\x03", 3));
  write_file(dir / "web" / ".hidden", "hidden\n");
  write_file(dir / "web" / "..secret.txt", "dotted name\n");
  std::filesystem::create_symlink(dir / "secret.txt", dir / "web" / "escape.txt");
  std::filesystem::create_directory_symlink(dir, dir / "web" / "up");
}

// ---------------------------------------------------------------------------
// HTTP client

// Reads and writes on the socket give up after 10 s: a broken server fails a
// test instead of hanging it.
void set_socket_timeouts(tcp::socket& socket) {
  timeval timeout{10, 0};
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

class HttpConnection {
 public:
  explicit HttpConnection(std::uint16_t port) : port_(port), socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    set_socket_timeouts(socket_);
  }

  Response request(http::verb method, const std::string& target, const Headers& headers = {},
                   const std::string& body = {}) {
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1:" + std::to_string(port_));
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty()) {
      request.body() = body;
      request.prepare_payload();
    }
    http::write(socket_, request);
    return read_response(method == http::verb::head);
  }

  Response get(const std::string& target, const Headers& headers = {}) {
    return request(http::verb::get, target, headers);
  }

  void write_raw(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

  Response read_response(bool head = false) {
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.skip(head);
    http::read(socket_, buffer_, parser);
    return parser.release();
  }

  // Whether the server closed the connection (read returns EOF) within the socket timeout.
  bool closed_by_server() {
    beast::error_code ec;
    std::array<char, 256> scratch{};
    while (true) {
      if (buffer_.size() > 0) return false;
      socket_.read_some(net::buffer(scratch), ec);
      if (ec == net::error::eof || ec == net::error::connection_reset) return true;
      if (ec) return false;  // timeout
    }
  }

 private:
  std::uint16_t port_;
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

Response get(std::uint16_t port, const std::string& target, const Headers& headers = {}) {
  return HttpConnection(port).get(target, headers);
}

Response request(std::uint16_t port, http::verb method, const std::string& target, const Headers& headers = {}) {
  return HttpConnection(port).request(method, target, headers);
}

std::string header(const Response& response, http::field field) { return std::string(response[field]); }
std::string header(const Response& response, const std::string& name) { return std::string(response[name]); }
bool has_header(const Response& response, http::field field) { return response.find(field) != response.end(); }

json::object body_json(const Response& response) { return json::parse(response.body()).as_object(); }

// Polls `target` until it answers `status`, or `timeout` passes.
bool wait_for_status(std::uint16_t port, const std::string& target, unsigned status,
                     std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (get(port, target).result_int() == status) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// ---------------------------------------------------------------------------
// Chat traffic

// Joins `room` as `user` (a stream that joined gets acks).
void join_room(ChatStreamClient& client, const std::string& room, const std::string& user) {
  client.send(join(room, user));
  if (!client.wait_for(is_joined(room))) throw std::runtime_error(user + " could not join " + room);
}

// Sends messages and waits for their acks (so they are stored); returns the
// echoes, as members of the room receive them. The sender must have joined.
std::vector<chat::ChatStream> send_acked(ChatStreamClient& client, const std::string& room, const std::string& sender,
                                         const std::vector<std::pair<std::string, std::string>>& id_and_content) {
  std::vector<chat::ChatStream> echoes;
  for (const auto& [id, content] : id_and_content) {
    client.send(chat_message(room, sender, content, id));
    if (!client.wait_for(is_ack_for(id))) throw std::runtime_error("no ack for " + id);
    auto echo = client.wait_for(is_message_id(id));
    if (!echo) throw std::runtime_error("no echo for " + id);
    echoes.push_back(*echo);
  }
  return echoes;
}

std::vector<std::string> sequences(const json::object& page) {
  std::vector<std::string> out;
  for (const auto& message : page.at("messages").as_array()) {
    out.emplace_back(message.as_object().at("sequence").as_string());
  }
  return out;
}

std::vector<std::string> range(int first, int last) {
  std::vector<std::string> out;
  for (int s = first; s <= last; ++s) out.push_back(std::to_string(s));
  return out;
}

class HistoryHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { write_web_fixtures(dir_.path()); }
  TempDir dir_;
};

// In room "h": sequences 1..10, alice sends the odd ones, bob the even ones;
// room "my room" holds one message.
class HistoryHttpWithMessagesTest : public HistoryHttpTest {
 protected:
  void SetUp() override {
    HistoryHttpTest::SetUp();
    chat_ = chat_service_host(dir_.path(), free_tcp_port());
    http_ = http_host(dir_.path(), {.chat_port = chat_->port("grpc-chat")});
    ChatStreamClient alice(chat_channel("127.0.0.1", chat_->port("grpc-chat")));
    ChatStreamClient bob(chat_channel("127.0.0.1", chat_->port("grpc-chat")));
    join_room(alice, "h", "alice");
    join_room(bob, "h", "bob");
    join_room(alice, "my room", "alice");
    for (int i = 1; i <= 10; ++i) {
      auto echoes = send_acked(i % 2 == 1 ? alice : bob, "h", i % 2 == 1 ? "alice" : "bob",
                               {{"id" + std::to_string(i), "message " + std::to_string(i)}});
      echoes_.push_back(echoes.front());
    }
    send_acked(alice, "my room", "alice", {{"space", "in a room with a space"}});
  }

  json::object history(const std::string& query) {
    auto response = get(http_->port("history-http"), "/history?" + query);
    EXPECT_EQ(response.result_int(), 200U) << query << ": " << response.body();
    EXPECT_EQ(header(response, http::field::content_type), "application/json");
    return body_json(response);
  }

  std::unique_ptr<TestHost> chat_;
  std::unique_ptr<TestHost> http_;
  std::vector<chat::ChatStream> echoes_;
};

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
  auto page = history("room=h&limit=3");
  EXPECT_EQ(sequences(page), range(8, 10));
  EXPECT_TRUE(page.at("has_more").as_bool());

  page = history("room=h&limit=1");
  EXPECT_EQ(sequences(page), range(10, 10));
  EXPECT_TRUE(page.at("has_more").as_bool());

  page = history("room=h&limit=1000");
  EXPECT_EQ(sequences(page), range(1, 10));

  page = history("room=h&before=4&limit=2");
  EXPECT_EQ(sequences(page), range(2, 3));
  EXPECT_TRUE(page.at("has_more").as_bool());

  page = history("room=h&before=3");
  EXPECT_EQ(sequences(page), range(1, 2));
  EXPECT_FALSE(page.at("has_more").as_bool());

  page = history("room=h&after=7");
  EXPECT_EQ(sequences(page), range(8, 10));
  EXPECT_FALSE(page.at("has_more").as_bool());

  page = history("room=h&after=0&limit=4");  // after=0: from the room's first message
  EXPECT_EQ(sequences(page), range(1, 4));
  EXPECT_TRUE(page.at("has_more").as_bool());

  page = history("room=h&after=2&before=6");
  EXPECT_EQ(sequences(page), range(3, 5));
  EXPECT_FALSE(page.at("has_more").as_bool());

  page = history("room=h&user=bob");
  EXPECT_EQ(sequences(page), (std::vector<std::string>{"2", "4", "6", "8", "10"}));
  for (const auto& m : page.at("messages").as_array()) EXPECT_EQ(m.as_object().at("sender_id").as_string(), "bob");

  page = history("room=h&user=alice&limit=2&before=9");
  EXPECT_EQ(sequences(page), (std::vector<std::string>{"5", "7"}));
  EXPECT_TRUE(page.at("has_more").as_bool());

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
  auto http = http_host(dir_.path(), {.chat_port = garbage.port()});

  auto page = get(http->port("history-http"), "/history?room=r");
  EXPECT_EQ(page.result_int(), 502U);
  EXPECT_EQ(body_json(page), json::parse(R"json({"error":"the chat service failed (INTERNAL)"})json"));
  EXPECT_FALSE(has_header(page, http::field::retry_after));

  auto health = get(http->port("history-http"), "/healthz");
  EXPECT_EQ(health.result_int(), 503U);
  EXPECT_EQ(body_json(health), json::parse(R"({"status":"unavailable","error":"the chat service is not serving"})"));
  EXPECT_EQ(garbage.answered(), 2);
}

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
  const double bridge_streams = metric(before, "chat_grpc_streams");  // ws-proxy's streams to grpc-chat
  EXPECT_GE(bridge_streams, 1);

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
// CORS

void expect_cors_allowed(const Response& response, const std::string& origin, const std::string& what) {
  EXPECT_EQ(header(response, http::field::access_control_allow_origin), origin) << what;
  EXPECT_EQ(header(response, http::field::vary), "Origin") << what;
  EXPECT_EQ(header(response, http::field::access_control_expose_headers), "ETag, Retry-After, WWW-Authenticate")
      << what;
}

void expect_cors_refused(const Response& response, const std::string& what) {
  EXPECT_FALSE(has_header(response, http::field::access_control_allow_origin)) << what;
  EXPECT_EQ(header(response, http::field::vary), "Origin") << what;
}

Headers preflight_headers(const std::string& origin) {
  return {{"Origin", origin}, {"Access-Control-Request-Method", "GET"},
          {"Access-Control-Request-Headers", "content-type"}};
}

void expect_preflight_allowed(std::uint16_t port, const std::string& origin) {
  auto response = request(port, http::verb::options, "/history?room=a", preflight_headers(origin));
  EXPECT_EQ(response.result_int(), 204U) << origin;
  EXPECT_EQ(header(response, http::field::access_control_allow_origin), origin);
  EXPECT_EQ(header(response, http::field::access_control_allow_methods), "GET, HEAD, OPTIONS");
  EXPECT_EQ(header(response, http::field::access_control_allow_headers), "Authorization, Content-Type, If-None-Match");
  EXPECT_EQ(header(response, http::field::access_control_max_age), "600");
  EXPECT_EQ(header(response, http::field::vary),
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_TRUE(response.body().empty());
}

void expect_preflight_refused(std::uint16_t port, const std::string& origin) {
  auto response = request(port, http::verb::options, "/history?room=a", preflight_headers(origin));
  EXPECT_EQ(response.result_int(), 403U) << origin;
  EXPECT_FALSE(has_header(response, http::field::access_control_allow_origin)) << origin;
  EXPECT_FALSE(has_header(response, http::field::access_control_allow_methods)) << origin;
  EXPECT_EQ(body_json(response).at("error").as_string(), "origin not allowed");
}

TEST_F(HistoryHttpTest, CorsAllowsExactlyTheListedOriginsAndNullWhenListed) {
  auto http = http_host(dir_.path(), {.extra_config = R"(allowed_origins = ["https://chat.example.org", "null"])"});
  const auto port = http->port("history-http");

  for (const std::string origin : {"https://chat.example.org", "null"}) {
    expect_cors_allowed(get(port, "/config.json", {{"Origin", origin}}), origin, "config " + origin);
    // Errors too, so the page can show them: a 400, and a 503 (no chat service here).
    expect_cors_allowed(get(port, "/history?room=a&limit=0", {{"Origin", origin}}), origin, "400 " + origin);
    auto unavailable = get(port, "/history?room=a", {{"Origin", origin}});
    EXPECT_EQ(unavailable.result_int(), 503U);
    expect_cors_allowed(unavailable, origin, "503 " + origin);
    expect_preflight_allowed(port, origin);
  }

  for (const std::string origin : {"https://evil.example", "https://chat.example.org.evil.example",
                                   "http://chat.example.org", "https://chat.example.org:8443",
                                   "https://CHAT.example.org", "https://chat.example.org/", "*"}) {
    auto response = get(port, "/config.json", {{"Origin", origin}});
    EXPECT_EQ(response.result_int(), 200U) << origin;  // answered, but the browser keeps it from the page
    expect_cors_refused(response, origin);
    expect_preflight_refused(port, origin);
  }

  // Same-origin and non-browser requests send no Origin: no CORS headers.
  expect_cors_refused(get(port, "/config.json"), "no origin");
  // OPTIONS without Access-Control-Request-Method is no preflight.
  auto options = request(port, http::verb::options, "/history", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(options.result_int(), 204U);
  EXPECT_EQ(header(options, http::field::allow), "GET, HEAD, OPTIONS");
  EXPECT_FALSE(has_header(options, http::field::access_control_allow_origin));
}

TEST_F(HistoryHttpTest, CorsRefusesFilePagesUnlessNullIsListed) {
  auto http = http_host(dir_.path(), {.extra_config = R"(allowed_origins = ["https://chat.example.org"])"});
  expect_cors_refused(get(http->port("history-http"), "/config.json", {{"Origin", "null"}}), "null");
  expect_preflight_refused(http->port("history-http"), "null");
  expect_cors_allowed(get(http->port("history-http"), "/config.json", {{"Origin", "https://chat.example.org"}}),
                      "https://chat.example.org", "listed");
}

TEST_F(HistoryHttpTest, CorsWildcardAllowsEveryOriginAndNull) {
  // The development setting of config/chat.toml, given here by the environment.
  auto http = http_host(dir_.path(), {.env = {{"HTTP_ALLOWED_ORIGINS", "*"}}});
  for (const std::string origin : {"https://anything.example", "http://localhost:3000", "null"}) {
    expect_cors_allowed(get(http->port("history-http"), "/config.json", {{"Origin", origin}}), origin, origin);
    expect_preflight_allowed(http->port("history-http"), origin);
  }
}

TEST_F(HistoryHttpTest, ABadConfigurationStopsTheHostBeforeItListens) {
  for (const std::string& bad : {std::string(R"(allowed_origins = ["https://chat.example.org/"])"),
                                 std::string(R"(allowed_origins = ["chat.example.org"])"),
                                 std::string(R"(public_ws_url = "http://not-a-websocket")"),
                                 std::string(R"(host = "not an address")")}) {
    write_file(dir_ / "bad.toml", "[host]\nplugins = [\"history-http\"]\n\n[history-http]\nport = 0\n" + bad + "\n");
    HostProcess host({.executable = host_binary(),
                      .args = {"--config", (dir_ / "bad.toml").string()},
                      .unset_env = host_variables(),
                      .working_dir = dir_.path()});
    EXPECT_EQ(host.wait_exit(), 1) << bad;
    const auto key = bad.substr(0, bad.find(' '));
    EXPECT_NE(host.output().find("[history-http] " + key + ":"), std::string::npos) << host.output();
    EXPECT_EQ(host.output().find("ready in"), std::string::npos) << host.output();
  }
}

// ---------------------------------------------------------------------------
// The page and its files

TEST_F(HistoryHttpTest, ServesThePageAndItsAssetsWithTheirContentTypes) {
  auto http = http_host(dir_.path(), {});
  const auto port = http->port("history-http");
  const std::vector<std::tuple<std::string, std::string, std::string>> files{
      {"/", "text/html; charset=utf-8", "web/client.html"},
      {"/client.html", "text/html; charset=utf-8", "web/client.html"},
      {"/assets/app.js", "text/javascript; charset=utf-8", "web/assets/app.js"},
      {"/assets/app.js?v=2", "text/javascript; charset=utf-8", "web/assets/app.js"},
      {"/assets/style.css", "text/css; charset=utf-8", "web/assets/style.css"},
      {"/logo.svg", "image/svg+xml", "web/logo.svg"},
      {"/notes.txt", "text/plain; charset=utf-8", "web/notes.txt"},
      {"/data.bin", "application/octet-stream", "web/data.bin"},
      {"/%61ssets/app.js", "text/javascript; charset=utf-8", "web/assets/app.js"},  // encoded 'a'
  };
  for (const auto& [target, type, file] : files) {
    auto response = get(port, target);
    EXPECT_EQ(response.result_int(), 200U) << target;
    EXPECT_EQ(header(response, http::field::content_type), type) << target;
    EXPECT_EQ(response.body(), read_file(dir_ / file)) << target;
    EXPECT_EQ(header(response, "X-Content-Type-Options"), "nosniff") << target;
    EXPECT_EQ(header(response, http::field::cache_control), "no-cache") << target;
  }
  auto config = get(port, "/config.json");
  EXPECT_EQ(header(config, http::field::content_type), "application/json");

  auto head = request(port, http::verb::head, "/");
  EXPECT_EQ(head.result_int(), 200U);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(header(head, http::field::content_length), std::to_string(read_file(dir_ / "web/client.html").size()));
  EXPECT_EQ(header(head, http::field::content_type), "text/html; charset=utf-8");
}

TEST_F(HistoryHttpTest, IfNoneMatchWithTheETagGets304) {
  auto http = http_host(dir_.path(), {});
  const auto port = http->port("history-http");
  auto first = get(port, "/");
  ASSERT_EQ(first.result_int(), 200U);
  const auto etag = header(first, http::field::etag);
  ASSERT_TRUE(std::regex_match(etag, std::regex(R"("[0-9a-f]+-[0-9a-f]+")"))) << etag;
  EXPECT_EQ(header(get(port, "/client.html"), http::field::etag), etag);  // same file, same tag
  EXPECT_NE(header(get(port, "/notes.txt"), http::field::etag), etag);

  for (const std::string& if_none_match : {etag, "W/" + etag, std::string("*"), "\"other\", " + etag,
                                           "\"other\"," + etag + ",\"third\""}) {
    auto response = get(port, "/", {{"If-None-Match", if_none_match}});
    EXPECT_EQ(response.result_int(), 304U) << if_none_match;
    EXPECT_TRUE(response.body().empty());
    EXPECT_EQ(header(response, http::field::etag), etag);
    EXPECT_FALSE(has_header(response, http::field::content_length)) << "a 304 has no payload to measure";
  }
  for (const std::string& if_none_match : {std::string("\"other\""), etag.substr(1, etag.size() - 2)}) {
    auto response = get(port, "/", {{"If-None-Match", if_none_match}});
    EXPECT_EQ(response.result_int(), 200U) << if_none_match;
    EXPECT_EQ(response.body(), read_file(dir_ / "web/client.html"));
  }

  // A changed file gets a new tag: the old one no longer matches.
  std::this_thread::sleep_for(20ms);
  write_file(dir_ / "web" / "client.html", "<!doctype html><title>chat</title><p>a new version</p>\n");
  auto changed = get(port, "/", {{"If-None-Match", etag}});
  EXPECT_EQ(changed.result_int(), 200U);
  EXPECT_EQ(changed.body(), read_file(dir_ / "web/client.html"));
  EXPECT_NE(header(changed, http::field::etag), etag);
  EXPECT_EQ(get(port, "/", {{"If-None-Match", header(changed, http::field::etag)}}).result_int(), 304U);
}

TEST_F(HistoryHttpTest, NothingOutsideTheWebRootIsReachable) {
  auto http = http_host(dir_.path(), {});
  const auto port = http->port("history-http");
  const std::string secret_abs = (dir_ / "secret.txt").string();
  const std::vector<std::string> targets{
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/assets/../client.html",  // no "..", even when it would stay inside
      "/./client.html",
      "/..%2fsecret.txt",
      "/..%2Fsecret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/.%2e/secret.txt",
      "/%252e%252e/secret.txt",  // double-encoded
      "/%252e%252e%252fsecret.txt",
      "/..%252fsecret.txt",
      "/%25%32%65%25%32%65/secret.txt",
      "/..\\secret.txt",
      "/..%5csecret.txt",
      "/assets/..%5c..%5csecret.txt",
      "//etc/passwd",
      "/%2fetc%2fpasswd",
      "/%2Fetc/passwd",
      "/" + secret_abs,           // an absolute path of the file system, under the root: not there
      "/%2f" + secret_abs.substr(1),
      "/client.html%00",          // NUL bytes
      "/client.html%00.txt",
      "/%00../secret.txt",
      "/client.html%0a",
      "/escape.txt",              // a symbolic link to the secret
      "/up/secret.txt",           // through a linked directory
      "/.hidden",
      "/..secret.txt",            // a name starting with '.'
      "/assets",                  // directories: never listed
      "/assets/",
      "/client.html/",
      "/no-such-file.html",
      "/%",
      "/%zz",
  };
  for (const auto& target : targets) {
    auto response = get(port, target);
    EXPECT_EQ(response.result_int(), 404U) << target;
    EXPECT_EQ(response.body().find("TOP SECRET"), std::string::npos) << target;
    EXPECT_EQ(response.body().find("root:"), std::string::npos) << target;
  }

  // Malformed requests: a raw NUL in the request line, a target that is not a path.
  for (const std::string& raw : {std::string("GET /client.html") + '\0' + ".txt HTTP/1.1\r\nHost: x\r\n\r\n",
                                 std::string("GET http://127.0.0.1/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"),
                                 std::string("GET ../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    HttpConnection connection(port);
    connection.write_raw(raw);
    auto response = connection.read_response();
    EXPECT_EQ(response.result_int(), 400U) << raw;
    EXPECT_EQ(response.body().find("TOP SECRET"), std::string::npos) << raw;
  }
  // The server is fine afterwards.
  EXPECT_EQ(get(port, "/").result_int(), 200U);
}

TEST_F(HistoryHttpTest, WithoutClientHtmlThePageIsAPlain404) {
  std::filesystem::remove(dir_ / "web" / "client.html");
  auto http = http_host(dir_.path(), {});
  auto response = get(http->port("history-http"), "/");
  EXPECT_EQ(response.result_int(), 404U);
  EXPECT_EQ(header(response, http::field::content_type), "application/json");
  EXPECT_EQ(body_json(response).at("error").as_string(), "not found");
  EXPECT_EQ(get(http->port("history-http"), "/assets/app.js").result_int(), 200U);
  EXPECT_TRUE(http->process().wait_for_line(std::regex("warn.*no client.html in the web root"), 1s));
}

// ---------------------------------------------------------------------------
// /config.json

TEST_F(HistoryHttpTest, ConfigJsonDerivesItsUrlsFromTheAddressThePageCameFrom) {
  auto http = http_host(dir_.path(),
                        {.extra_config = "allowed_hosts = [\"chat.example.org\", \"192.168.1.20\", \"[::1]\"]\n"});
  const auto port = http->port("history-http");
  auto urls = [&](const std::string& host) {
    HttpConnection connection(port);
    return body_json(connection.get("/config.json", {{"Host", host}}));
  };
  auto config = urls("chat.example.org:8081");
  EXPECT_EQ(config.at("ws_url").as_string(), "ws://chat.example.org:8080");
  EXPECT_EQ(config.at("history_url").as_string(), "http://chat.example.org:8081");
  config = urls("192.168.1.20");
  EXPECT_EQ(config.at("ws_url").as_string(), "ws://192.168.1.20:8080");
  EXPECT_EQ(config.at("history_url").as_string(), "http://192.168.1.20");
  config = urls("[::1]:9000");
  EXPECT_EQ(config.at("ws_url").as_string(), "ws://[::1]:8080");
  EXPECT_EQ(config.at("history_url").as_string(), "http://[::1]:9000");
  // A Host header that is not a plain host[:port], or names a host that is
  // not on the allowlist, is not echoed into a URL.
  for (const std::string junk :
       {"evil.example/path", "a b", "\"quoted\"", "x:y:z", "<script>", "evil.example", "chat.example.org.evil:80"}) {
    config = urls(junk);
    EXPECT_EQ(config.at("history_url").as_string(), "http://127.0.0.1:" + std::to_string(port)) << junk;
    EXPECT_EQ(config.at("ws_url").as_string(), "ws://127.0.0.1:8080") << junk;
  }
  auto response = get(port, "/config.json");
  EXPECT_EQ(header(response, http::field::cache_control), "no-store");
}

TEST_F(HistoryHttpTest, ConfigJsonGivesThePublicUrlsWhenConfigured) {
  auto http = http_host(dir_.path(), {.extra_config = "public_history_url = \"https://chat.example.org\"\nws_port = 9090\n",
                              .env = {{"PUBLIC_WS_URL", "wss://chat.example.org/ws"}}});
  auto config = body_json(get(http->port("history-http"), "/config.json"));
  EXPECT_EQ(config.at("ws_url").as_string(), "wss://chat.example.org/ws");
  EXPECT_EQ(config.at("history_url").as_string(), "https://chat.example.org");

  auto derived = http_host(dir_.path(), {.env = {{"WS_PORT", "9191"}}});
  EXPECT_EQ(body_json(get(derived->port("history-http"), "/config.json")).at("ws_url").as_string(), "ws://127.0.0.1:9191");
}

TEST_F(HistoryHttpTest, TheEnvironmentOverridesTheTable) {
  const auto port = free_tcp_port();
  write_file(dir_ / "other-web" / "client.html", "<p>the other page</p>");
  auto http = http_host(dir_.path(), {.env = {{"HTTP_PORT", std::to_string(port)},
                                      {"HTTP_WEB_ROOT", (dir_ / "other-web").string()}}});
  EXPECT_EQ(http->port("history-http"), port);
  EXPECT_EQ(get(port, "/").body(), "<p>the other page</p>");
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
    write_file(dir_ / "bad.toml", "[host]\nplugins = [\"history-http\"]\n\n[history-http]\nport = 0\n" + c.line + "\n");
    HostProcess host({.executable = host_binary(),
                      .args = {"--config", (dir_ / "bad.toml").string()},
                      .env = c.env,
                      .unset_env = host_variables(),
                      .working_dir = dir_.path()});
    EXPECT_EQ(host.wait_exit(), 1) << c.line;
    EXPECT_NE(host.output().find(c.expected), std::string::npos) << host.output();
    if (c.line.find("auth_secret_file") != std::string::npos) {
      EXPECT_NE(host.output().find("[history-http] auth_secret_file: "), std::string::npos) << host.output();
    }
    EXPECT_EQ(host.output().find("ready in"), std::string::npos) << host.output();
  }
}

// ---------------------------------------------------------------------------
// Connections and limits

TEST_F(HistoryHttpTest, KeepAliveServesManyRequestsOnOneConnectionInOrder) {
  auto http = http_host(dir_.path(), {});
  HttpConnection connection(http->port("history-http"));
  auto first = connection.get("/config.json");
  EXPECT_EQ(first.result_int(), 200U);
  EXPECT_TRUE(first.keep_alive());
  auto second = connection.get("/notes.txt");
  EXPECT_EQ(second.result_int(), 200U);
  EXPECT_EQ(second.body(), "plain text\n");
  auto third = connection.get("/history?room=a&limit=0");
  EXPECT_EQ(third.result_int(), 400U);
  EXPECT_TRUE(third.keep_alive());  // an answered error keeps the connection

  // Pipelined: both requests written at once, answered in order.
  connection.write_raw("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /assets/style.css HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(connection.read_response().body(), "plain text\n");
  EXPECT_EQ(connection.read_response().body(), "body { color: black; }\n");

  // Connection: close is honoured.
  auto last = connection.get("/notes.txt", {{"Connection", "close"}});
  EXPECT_EQ(last.result_int(), 200U);
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(connection.closed_by_server());

  // HTTP/1.0 without keep-alive: closed after the answer.
  HttpConnection old(http->port("history-http"));
  old.write_raw("GET /notes.txt HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.read_response().body(), "plain text\n");
  EXPECT_TRUE(old.closed_by_server());
}

TEST_F(HistoryHttpTest, HeadersOver8KiBGet431AndTheConnectionCloses) {
  auto http = http_host(dir_.path(), {});
  {
    HttpConnection connection(http->port("history-http"));
    auto fine = connection.get("/notes.txt", {{"X-Padding", std::string(7000, 'p')}});
    EXPECT_EQ(fine.result_int(), 200U);
  }
  for (const Headers& headers : {Headers{{"X-Padding", std::string(9000, 'p')}},
                                 Headers{{"X-A", std::string(3000, 'a')}, {"X-B", std::string(3000, 'b')},
                                         {"X-C", std::string(3000, 'c')}}}) {
    HttpConnection connection(http->port("history-http"));
    auto response = connection.get("/notes.txt", headers);
    EXPECT_EQ(response.result_int(), 431U);
    EXPECT_EQ(header(response, http::field::content_type), "application/json");
    EXPECT_EQ(header(response, http::field::vary), "Origin");  // like every response
    EXPECT_FALSE(response.keep_alive());
    EXPECT_TRUE(connection.closed_by_server());
  }
  // A long request target counts too.
  HttpConnection connection(http->port("history-http"));
  EXPECT_EQ(connection.get("/history?room=" + std::string(9000, 'r')).result_int(), 431U);
  EXPECT_EQ(get(http->port("history-http"), "/notes.txt").result_int(), 200U);
}

TEST_F(HistoryHttpTest, BodiesOverTheLimitGet413) {
  auto http = http_host(dir_.path(), {.extra_config = "max_body_bytes = 1024\n"});
  HttpConnection small(http->port("history-http"));
  EXPECT_EQ(small.request(http::verb::get, "/notes.txt", {}, std::string(1000, 'b')).result_int(), 200U);
  HttpConnection large(http->port("history-http"));
  auto response = large.request(http::verb::get, "/notes.txt", {}, std::string(4096, 'b'));
  EXPECT_EQ(response.result_int(), 413U);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(large.closed_by_server());
}

TEST_F(HistoryHttpTest, IdleAndSlowConnectionsAreClosedByTheirTimeouts) {
  // The client gives up after 10 s (set_socket_timeouts), long before the
  // default timeouts: a close it sees comes from these.
  auto http = http_host(dir_.path(), {.extra_config = "idle_timeout_ms = 300\nrequest_timeout_ms = 1000\n"});
  // Idle between requests.
  HttpConnection idle(http->port("history-http"));
  EXPECT_EQ(idle.get("/notes.txt").result_int(), 200U);
  EXPECT_TRUE(idle.closed_by_server());

  // Never sends anything.
  HttpConnection silent(http->port("history-http"));
  EXPECT_TRUE(silent.closed_by_server());

  // Starts a request and never finishes it, a header line every 100 ms (so
  // never idle for long): the request timeout closes it while bytes still
  // come. Writing to a closed connection fails (reset) soon after.
  HttpConnection slow(http->port("history-http"));
  slow.write_raw("GET /notes.txt HTTP/1.1\r\n");
  bool closed = false;
  for (int i = 0; i < 80 && !closed; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      slow.write_raw("X-Slow: " + std::to_string(i) + "\r\n");
    } catch (const boost::system::system_error&) {
      closed = true;
    }
  }
  EXPECT_TRUE(closed) << "a request trickling in for 8 s was not cut off";
}

// ---------------------------------------------------------------------------
// The documentation

std::vector<std::string> documented_curl_commands(const std::string& doc) {
  std::vector<std::string> commands;
  std::istringstream lines(doc);
  bool in_shell = false;
  for (std::string line; std::getline(lines, line);) {
    const auto start = line.find_first_not_of(' ');
    const std::string text = start == std::string::npos ? "" : line.substr(start);
    if (text.rfind("```", 0) == 0) {
      in_shell = !in_shell && text == "```sh";
      continue;
    }
    if (in_shell && text.rfind("curl ", 0) == 0) commands.push_back(text);
  }
  return commands;
}

// The JSON block that follows `command` in the document.
std::string documented_output(const std::string& doc, const std::string& command) {
  const auto at = doc.find(command);
  const auto open = doc.find("```json\n", at);
  const auto close = doc.find("```", open + 8);
  return doc.substr(open + 8, close - open - 8);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

struct CurlRun {
  int exit_code;
  std::string output;
};

CurlRun run_shell(const std::filesystem::path& dir, const std::string& command) {
  HostProcess shell({.executable = "/bin/sh",
                     .args = {"-c", command},
                     .unset_env = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"},
                     .working_dir = dir});
  auto code = shell.wait_exit(30s);
  return {code.value_or(-1), shell.output(Stream::Stdout)};
}

TEST_F(HistoryHttpTest, CurlExactlyAsTheDocsShow) {
  const auto doc = read_file(source_dir() / "docs" / "http-api.md");
  const auto commands = documented_curl_commands(doc);
  ASSERT_GE(commands.size(), 8U);

  // The all-in-one host of the shipped config, on test ports; the room of the examples.
  const auto chat_port = free_tcp_port();
  auto host = http_host(dir_.path(), {.plugins = {"grpc-chat", "history-http"},
                                      .chat_port = chat_port,
                              .extra_tables = "[grpc-chat]\nhost = \"127.0.0.1\"\nport = " +
                                              std::to_string(chat_port) + "\nstore = \"memory\"\n"});
  {
    ChatStreamClient alice(chat_channel("127.0.0.1", chat_port));
    ChatStreamClient bob(chat_channel("127.0.0.1", chat_port));
    join_room(alice, "lobby", "alice");
    join_room(bob, "lobby", "bob");
    send_acked(alice, "lobby", "alice", {{"m1", "hello"}});
    send_acked(bob, "lobby", "bob", {{"m2", "hi alice"}});
    send_acked(alice, "lobby", "alice", {{"m3", "hello again"}});
  }
  const std::string documented_base = "http://localhost:8081";
  const std::string base = "http://127.0.0.1:" + std::to_string(host->port("history-http"));

  std::set<std::string> seen;
  for (const auto& documented : commands) {
    const auto command = replace_all(documented, documented_base, base);
    ASSERT_NE(command, documented) << "every example talks to " << documented_base << ": " << documented;
    const auto run = run_shell(dir_.path(), command);
    EXPECT_EQ(run.exit_code, 0) << command << "\n" << run.output;
    EXPECT_FALSE(run.output.empty()) << command;
    if (documented == "curl 'http://localhost:8081/history?room=lobby&limit=2'") {
      seen.insert("history");
      // The output the docs show, but for the timestamps.
      auto expected = json::parse(documented_output(doc, documented)).as_object();
      auto actual = json::parse(run.output).as_object();
      for (auto* page : {&expected, &actual}) {
        for (auto& m : page->at("messages").as_array()) m.as_object().erase("timestamp");
      }
      EXPECT_EQ(actual, expected) << run.output;
    } else if (documented == "curl 'http://localhost:8081/history/senders?room=lobby'") {
      seen.insert("senders");
      EXPECT_EQ(json::parse(run.output), json::parse(documented_output(doc, documented))) << run.output;
    } else if (documented == "curl http://localhost:8081/config.json") {
      seen.insert("config");
      const auto local = replace_all(replace_all(run.output, base, documented_base), "ws://127.0.0.1:",
                                     "ws://localhost:");
      EXPECT_EQ(json::parse(local), json::parse(documented_output(doc, documented))) << run.output;
    } else if (documented.find("limit=5000") != std::string::npos) {
      seen.insert("400");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 400 Bad Request", 0), 0U) << run.output;
      EXPECT_NE(run.output.find(R"({"error":"limit must be an integer from 1 to 1000","parameter":"limit"})"),
                std::string::npos);
    } else if (documented == "curl -i http://localhost:8081/healthz") {
      seen.insert("healthz");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 200 OK", 0), 0U) << run.output;
      EXPECT_NE(run.output.find(R"({"status":"ok"})"), std::string::npos);
    } else if (documented == "curl http://localhost:8081/metrics") {
      seen.insert("metrics");
      EXPECT_NE(run.output.find("chat_http_requests_total{route=\"/history\",status=\"200\"}"), std::string::npos);
      EXPECT_NE(run.output.find("chat_messages_stored_total 3"), std::string::npos) << run.output;
    } else if (documented.find("-X OPTIONS") != std::string::npos) {
      seen.insert("preflight");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 204 No Content", 0), 0U) << run.output;
      EXPECT_NE(run.output.find("Access-Control-Allow-Origin: https://chat.example.org"), std::string::npos);
    } else if (documented == "curl -I http://localhost:8081/") {
      seen.insert("page");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 200 OK", 0), 0U) << run.output;
      EXPECT_NE(run.output.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
      EXPECT_NE(run.output.find("ETag: \""), std::string::npos);
    } else if (documented.find("If-None-Match") != std::string::npos) {
      seen.insert("304");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 304 Not Modified", 0), 0U) << run.output;
    } else if (documented.find("-H 'Origin: ") != std::string::npos) {
      seen.insert("cors");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 200 OK", 0), 0U) << run.output;
      EXPECT_NE(run.output.find("Access-Control-Allow-Origin: https://chat.example.org\r\n"), std::string::npos);
      EXPECT_NE(run.output.find("Vary: Origin\r\n"), std::string::npos);
    }
  }
  EXPECT_EQ(seen.size(), 10U) << "an example the test knows is missing from the docs";
}

}  // namespace
}  // namespace chathost::test
