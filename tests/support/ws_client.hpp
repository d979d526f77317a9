// A WebSocket client for tests (Boost.Beast, async on an I/O thread): a
// background read loop collects every frame, so a test can send, then wait
// for the frame it expects, like ChatStreamClient does for gRPC.
//
//   WsClient alice({.port = port, .target = "/?user=alice&room=lobby"});
//   ASSERT_TRUE(alice.wait_available());
//   alice.send(chat_message("lobby", "alice", "hi", "m1"));
//   auto echo = alice.wait_for(is_message_with_content("hi"));
//
// Frames are decoded with chat::json::decode into chat::ChatStream; the raw
// text of every frame is kept too. Many clients can share one WsIo (one
// io_context and its threads) instead of a thread each.
#pragma once

#include "support/chat_stream_client.hpp"  // EventPredicate and the frame builders and predicates
#include "support/host_process.hpp"
#include "support/test_host.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chathost::test {

// An io_context with its threads, shareable by many clients.
class WsIo {
 public:
  explicit WsIo(std::size_t threads = 1);
  ~WsIo();
  WsIo(const WsIo&) = delete;
  WsIo& operator=(const WsIo&) = delete;

  struct State;
  State& state() { return *state_; }

 private:
  std::unique_ptr<State> state_;
};

struct WsOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string target = "/";
  std::optional<std::string> origin{};  // the Origin header, if any
  int receive_buffer_bytes = 0;         // SO_RCVBUF set before connecting (0: the system's)
  bool read = true;                     // false: read nothing until start_reading()
  std::chrono::milliseconds timeout = kDefaultTimeout;
};

// The options of a client of `host`'s ws-proxy, at `target`.
inline WsOptions ws_to(const TestHost& host, const std::string& target = "/") {
  return WsOptions{.port = host.port("ws-proxy"), .target = target};
}

// What the server answered an upgrade request: 101, or a refusal's status
// and body. `status` is 0 (and `error` set) when no HTTP answer came.
struct UpgradeAnswer {
  int status = 0;
  std::string body;
  std::string error;
};
UpgradeAnswer try_upgrade(const WsOptions& options);

// How a connection ended: the close frame's code and reason when one came,
// else the error that ended the read (end of stream, reset, ...).
struct WsClosed {
  std::optional<int> code;
  std::string reason;
  std::string error;
};

class WsClient {
 public:
  // Connects and completes the upgrade; throws std::runtime_error when either fails.
  explicit WsClient(WsOptions options, std::shared_ptr<WsIo> io = nullptr);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  void send_text(std::string text);
  void send_binary(std::string data);
  void send(const chat::ChatStream& frame);  // as proto3 JSON, proto field names
  // Starts the read loop of a client made with read = false.
  void start_reading();
  // Sends a close frame (1000); the read loop ends when the server answers.
  void close();

  // The first frame from position `from` on that matches; nullopt on timeout
  // or once the connection ended without one.
  std::optional<chat::ChatStream> wait_for(const EventPredicate& predicate,
                                           std::chrono::milliseconds timeout = kDefaultTimeout, std::size_t from = 0);
  // Waits until `count` frames match; returns them (fewer on timeout).
  std::vector<chat::ChatStream> wait_for_count(const EventPredicate& predicate, std::size_t count,
                                               std::chrono::milliseconds timeout = kDefaultTimeout);
  // Waits until the last service_status received says available.
  bool wait_available(std::chrono::milliseconds timeout = kDefaultTimeout);
  std::vector<chat::ChatStream> events() const;
  std::vector<chat::ChatStream> events_matching(const EventPredicate& predicate) const;
  std::vector<std::string> texts() const;
  std::size_t size() const;

  // Waits for the connection to end; nullopt if it is still open after `timeout`.
  std::optional<WsClosed> wait_closed(std::chrono::milliseconds timeout = kDefaultTimeout);

  struct Impl;

 private:
  std::shared_ptr<WsIo> io_;
  std::shared_ptr<Impl> impl_;
};

// Predicates for what only the proxy sends.
EventPredicate is_service_status(bool available);
EventPredicate is_error_code(chat::Error::Code code);

}  // namespace chathost::test
