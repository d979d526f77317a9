// A WebSocket (or HTTP) peer on a bare TCP socket, for what no well-behaved
// client library sends: requests and frames written byte by byte, floods
// from a client that never reads, sockets held open and idle.
//
//   RawPeer peer(port, {.receive_buffer_bytes = 4096});
//   ASSERT_EQ(status_line(peer.upgrade()), "HTTP/1.1 101 Switching Protocols");
//   peer.flood(raw_frame(0x89, "ping"), 64 << 20, 2s);  // until the server stops reading
//   EXPECT_EQ(peer.read_close_code(), 1008);
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace chathost::test {

struct RawPeerOptions {
  std::string host = "127.0.0.1";
  int receive_buffer_bytes = 0;  // SO_RCVBUF set before connecting (0: the system's)
  std::string source{};          // bound before connecting: another loopback address is another client
};

class RawPeer {
 public:
  // Connects; throws boost::system::system_error when refused.
  explicit RawPeer(std::uint16_t port, RawPeerOptions options = {});

  // Sends `request` and returns the response's head (status line and
  // headers); whatever follows stays buffered for the reads below.
  std::string request(const std::string& request);
  // A WebSocket upgrade of `target` with `extra_headers` (each ending in \r\n).
  std::string upgrade(const std::string& extra_headers = "", const std::string& target = "/");

  void send_bytes(const std::string& bytes);

  // Writes `frame` again and again without reading anything, until
  // `max_bytes` are sent or no byte could be sent for `stall` (the server
  // stopped reading, or closed). Returns the bytes sent.
  std::size_t flood(const std::string& frame, std::size_t max_bytes, std::chrono::milliseconds stall);

  // Waits up to `timeout` for the server to end the connection (end of
  // stream or reset), keeping whatever it sends first; whether it did.
  bool wait_end(std::chrono::milliseconds timeout);

  // Sends `bytes` one at a time, `interval` apart, then nothing, until the
  // server ends the connection or `timeout` passes; whether it did.
  bool trickle_until_end(const std::string& bytes, std::chrono::milliseconds interval,
                         std::chrono::milliseconds timeout);

  // Reads frames until a close frame; its code (1005 when it has none), or
  // 0 if the connection ended without one.
  int read_close_code();
  // Reads up to the next pong, past data frames; its payload (nullopt if a
  // control frame of another kind comes first, or the connection ended).
  std::optional<std::string> read_pong();

  // What was read and not yet consumed (a response's body, say).
  const std::string& buffered() const { return buffer_; }
  // The next `count` bytes (a body of known length), read as needed; fewer
  // if the connection ends first.
  std::string read_bytes(std::size_t count);

 private:
  bool fill(std::size_t bytes);
  // The next frame's opcode and payload; nullopt at the end of the stream.
  std::optional<std::pair<int, std::string>> read_frame();

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string buffer_;
};

// A client frame with the mask bit as given (clients must mask); payloads
// up to 125 bytes.
std::string raw_frame(unsigned char first_byte, const std::string& payload, bool masked = true);

// The first line of an HTTP response head.
std::string status_line(const std::string& head);

}  // namespace chathost::test
