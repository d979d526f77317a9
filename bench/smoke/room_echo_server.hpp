// RoomEchoServer: a WebSocket server with the exercise's room semantics and
// nothing else, so chat-load's own counting can be tested without the real
// proxy: a connection joins a room by sending a chat_message into it; each
// chat_message goes to every member of its room, the sender included.
// Like chat-host's proxy it also sends frames of other kinds, which
// chat-load must ignore: a presence frame to the room when someone joins, an
// ack to the sender of each message. Anything but a chat_message gets
// {"error":"..."}.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace chathost::bench::test {

class RoomEchoServer {
 public:
  RoomEchoServer();  // listens on 127.0.0.1, a free port, one thread
  ~RoomEchoServer();
  RoomEchoServer(const RoomEchoServer&) = delete;
  RoomEchoServer& operator=(const RoomEchoServer&) = delete;

  std::uint16_t port() const;
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(port()) + "/"; }

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace chathost::bench::test
