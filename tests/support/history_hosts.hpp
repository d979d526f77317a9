// The hosts, HTTP client and chat traffic of history-http's integration
// tests: grpc-chat in one host process and history-http in another (or
// beside it), a Beast HTTP client on a connection of its own, and a room
// filled through a real Chat stream; the fixtures every file of them uses.
//
//   auto chat = chat_service_host(dir, free_tcp_port());
//   auto http = http_host(dir, {.chat_port = chat->port("grpc-chat")});
//   EXPECT_EQ(get(http->port("history-http"), "/history?room=r").result_int(), 200U);
#pragma once

#include "chat.grpc.pb.h"  // from chat_proto
#include "support/chat_stream_client.hpp"
#include "support/host_variables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace chathost::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using Response = http::response<http::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

inline constexpr const char* kSecret = "TOP SECRET, outside the web root";

inline std::string toml_string(const std::filesystem::path& path) { return "\"" + path.string() + "\""; }

// ---------------------------------------------------------------------------
// Host processes

// grpc-chat alone in its host process, on a port the test chose so that a
// restart comes back at the same address. SQLite store, so messages survive it.
inline std::unique_ptr<TestHost> chat_service_host(const std::filesystem::path& dir, std::uint16_t port) {
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
inline std::unique_ptr<TestHost> http_host(const std::filesystem::path& dir, HttpHostOptions options) {
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
inline void write_web_fixtures(const std::filesystem::path& dir) {
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
inline void set_socket_timeouts(tcp::socket& socket) {
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

inline Response get(std::uint16_t port, const std::string& target, const Headers& headers = {}) {
  return HttpConnection(port).get(target, headers);
}

inline Response request(std::uint16_t port, http::verb method, const std::string& target, const Headers& headers = {}) {
  return HttpConnection(port).request(method, target, headers);
}

inline std::string header(const Response& response, http::field field) { return std::string(response[field]); }
inline std::string header(const Response& response, const std::string& name) { return std::string(response[name]); }
inline bool has_header(const Response& response, http::field field) { return response.find(field) != response.end(); }

inline json::object body_json(const Response& response) { return json::parse(response.body()).as_object(); }

// Polls `target` until it answers `status`, or `timeout` passes.
inline bool wait_for_status(std::uint16_t port, const std::string& target, unsigned status,
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
inline void join_room(ChatStreamClient& client, const std::string& room, const std::string& user) {
  client.send(join(room, user));
  if (!client.wait_for(is_joined(room))) throw std::runtime_error(user + " could not join " + room);
}

// Sends messages and waits for their acks (so they are stored); returns the
// echoes, as members of the room receive them. The sender must have joined.
inline std::vector<chat::ChatStream> send_acked(ChatStreamClient& client, const std::string& room, const std::string& sender,
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

// Sends message `id` and reads `target` on `connection` at once after its
// ack: the page's newest message must be that one (history is never stale).
// Returns the page; an empty one when there was no ack or no page.
inline json::object send_then_read_at_once(ChatStreamClient& client, const std::string& room, const std::string& sender,
                                           const std::string& id, HttpConnection& connection, const std::string& target) {
  client.send(chat_message(room, sender, "content of " + id, id));
  const auto ack = client.wait_for(is_ack_for(id));
  if (!ack) {
    ADD_FAILURE() << "no ack for " << id;
    return {};
  }
  const auto response = connection.get(target);
  if (response.result_int() != 200U) {
    ADD_FAILURE() << target << " after " << id << ": " << response.result_int() << " " << response.body();
    return {};
  }
  auto page = body_json(response);
  const auto& messages = page.at("messages").as_array();
  if (messages.empty()) {
    ADD_FAILURE() << "no messages after " << id;
  } else {
    const auto& newest = messages.back().as_object();
    EXPECT_EQ(newest.at("sequence").as_string(), std::to_string(ack->ack().sequence()))
        << "the answer after " << id << "'s ack is stale";
    EXPECT_EQ(newest.at("id").as_string(), id);
  }
  return page;
}

// Newest pages history-http answered from its copy of recent messages.
inline double pages_from_copy(std::uint16_t http_port) {
  return metric(get(http_port, "/metrics").body(), R"(chat_history_recent_pages_total{from="copy"})");
}

inline std::vector<std::string> sequences(const json::object& page) {
  std::vector<std::string> out;
  for (const auto& message : page.at("messages").as_array()) {
    out.emplace_back(message.as_object().at("sequence").as_string());
  }
  return out;
}

inline std::vector<std::string> range(int first, int last) {
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

}  // namespace chathost::test
