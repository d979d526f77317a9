// LoadClient: one generator connection. A Beast WebSocket stream, one read
// buffer and one frame buffer, both reused; no shared_ptr, no strand: it
// lives on its worker's single-threaded io_context and is owned by the
// worker, which destroys it only after its io_context stopped running.
#pragma once

#include "chat_frame.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace chathost::bench {

class LoadWorker;
struct Target;

class LoadClient {
 public:
  enum class State { Idle, Connecting, Open, Closing, Closed };

  LoadClient(LoadWorker& worker, std::uint32_t number, std::uint32_t room, const Target& target,
             std::optional<boost::asio::ip::address> source);
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  // All of these run on the worker's thread.
  void connect();
  // Queues one message. Phase::Warmup stands for "by the clock": the worker
  // decides at the moment the frame is built whether it is warm-up or
  // measured, or past the window (then it is not sent at all).
  void send(Phase phase);
  // Queues `count` messages at once, written back to back (seeding).
  void send_burst(Phase phase, std::uint32_t count);
  void ping();
  void close();  // WebSocket close handshake, then the socket
  void abort();  // the socket, at once

  State state() const { return state_; }
  std::uint32_t number() const { return number_; }
  std::uint32_t room() const { return room_; }
  bool joined() const { return joined_; }
  void mark_joined() { joined_ = true; }

 private:
  void on_connect(const boost::system::error_code& ec);
  void on_handshake(const boost::system::error_code& ec);
  // The connection or its handshake failed: closes the socket, tells the worker why.
  void connect_failed(const std::string& why);
  void read();
  void on_read(const boost::system::error_code& ec);
  void write(Phase phase);
  void on_write(const boost::system::error_code& ec);
  void lost(const char* during, const boost::system::error_code& ec);

  static constexpr std::uint32_t kMaxPending = 256;

  LoadWorker& worker_;
  const Target& target_;
  boost::beast::websocket::stream<boost::asio::ip::tcp::socket> ws_;
  boost::beast::flat_buffer in_;
  std::string out_;
  std::optional<boost::asio::ip::address> source_;
  std::uint64_t seq_ = 0;
  std::uint32_t number_;
  std::uint32_t room_;
  std::uint32_t pending_ = 0;  // messages waiting for the write in flight
  Phase pending_phase_ = Phase::Warmup;
  State state_ = State::Idle;
  bool writing_ = false;
  bool pinging_ = false;
  bool joined_ = false;
};

}  // namespace chathost::bench
