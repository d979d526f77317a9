#include "support/raw_peer.hpp"

#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>

namespace chathost::test {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

RawPeer::RawPeer(std::uint16_t port, RawPeerOptions options) : socket_(io_) {
  const net::ip::tcp::endpoint endpoint{net::ip::make_address(options.host), port};
  socket_.open(endpoint.protocol());
  if (options.receive_buffer_bytes > 0) {
    socket_.set_option(net::socket_base::receive_buffer_size(options.receive_buffer_bytes));
  }
  if (!options.source.empty()) socket_.bind({net::ip::make_address(options.source), 0});
  socket_.connect(endpoint);
}

std::string RawPeer::request(const std::string& request) {
  net::write(socket_, net::buffer(request));
  boost::system::error_code ec;
  const auto end = net::read_until(socket_, net::dynamic_buffer(buffer_), "\r\n\r\n", ec);
  std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end);
  return head;
}

std::string RawPeer::upgrade(const std::string& extra_headers, const std::string& target) {
  return request("GET " + target +
                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
                 extra_headers + "\r\n");
}

void RawPeer::send_bytes(const std::string& bytes) { net::write(socket_, net::buffer(bytes)); }

std::size_t RawPeer::flood(const std::string& frame, std::size_t max_bytes, std::chrono::milliseconds stall) {
  // Many frames per write, as a flooding client would send them.
  std::string chunk;
  while (chunk.size() < 64 * 1024) chunk += frame;
  std::size_t sent = 0;
  std::size_t offset = 0;  // into chunk: frames stay whole across partial writes
  auto last_progress = Clock::now();
  while (sent < max_bytes) {
    pollfd writable{.fd = socket_.native_handle(), .events = POLLOUT, .revents = 0};
    const int ready = ::poll(&writable, 1, 50);
    if (ready > 0 && (writable.revents & (POLLERR | POLLHUP)) != 0) break;
    if (ready > 0) {
      const auto wrote = ::send(socket_.native_handle(), chunk.data() + offset, chunk.size() - offset,
                                MSG_DONTWAIT | MSG_NOSIGNAL);
      if (wrote < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
      if (wrote > 0) {
        sent += static_cast<std::size_t>(wrote);
        offset = (offset + static_cast<std::size_t>(wrote)) % chunk.size();
        last_progress = Clock::now();
        continue;
      }
    }
    if (Clock::now() - last_progress >= stall) break;
  }
  return sent;
}

bool RawPeer::wait_end(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd readable{.fd = socket_.native_handle(), .events = POLLIN, .revents = 0};
    if (::poll(&readable, 1, static_cast<int>(left.count())) <= 0) continue;
    char chunk[4096];
    boost::system::error_code ec;
    const auto got = socket_.read_some(net::buffer(chunk), ec);
    if (ec) return true;
    buffer_.append(chunk, got);
  }
}

bool RawPeer::trickle_until_end(const std::string& bytes, std::chrono::milliseconds interval,
                                std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (const char byte : bytes) {
    boost::system::error_code ec;
    net::write(socket_, net::buffer(&byte, 1), ec);
    if (ec || wait_end(interval)) return true;
    if (Clock::now() > deadline) return false;
  }
  return wait_end(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
}

std::optional<std::pair<int, std::string>> RawPeer::read_frame() {
  if (!fill(2)) return std::nullopt;
  const int opcode = static_cast<unsigned char>(buffer_[0]) & 0x0F;
  std::size_t length = static_cast<unsigned char>(buffer_[1]) & 0x7F;
  std::size_t header = 2;
  if (length == 126) {
    if (!fill(4)) return std::nullopt;
    length = (static_cast<std::size_t>(static_cast<unsigned char>(buffer_[2])) << 8) |
             static_cast<unsigned char>(buffer_[3]);
    header = 4;
  } else if (length == 127) {
    if (!fill(10)) return std::nullopt;
    length = 0;
    for (std::size_t i = 2; i < 10; ++i) length = (length << 8) | static_cast<unsigned char>(buffer_[i]);
    header = 10;
  }
  if (!fill(header + length)) return std::nullopt;
  std::pair<int, std::string> frame{opcode, buffer_.substr(header, length)};
  buffer_.erase(0, header + length);
  return frame;
}

int RawPeer::read_close_code() {
  while (auto frame = read_frame()) {
    if (frame->first != 0x8) continue;
    const auto& payload = frame->second;
    return payload.size() < 2 ? 1005
                              : (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]);
  }
  return 0;
}

std::optional<std::string> RawPeer::read_pong() {
  while (auto frame = read_frame()) {
    if (frame->first == 0xA) return std::move(frame->second);
    if (frame->first != 0x1 && frame->first != 0x2) return std::nullopt;  // a ping of ours, or a close
  }
  return std::nullopt;
}

std::string RawPeer::read_bytes(std::size_t count) {
  fill(count);
  std::string out = buffer_.substr(0, count);
  buffer_.erase(0, out.size());
  return out;
}

bool RawPeer::fill(std::size_t bytes) {
  boost::system::error_code ec;
  while (buffer_.size() < bytes && !ec) {
    char chunk[16384];
    const auto got = socket_.read_some(net::buffer(chunk), ec);
    buffer_.append(chunk, got);
  }
  return buffer_.size() >= bytes;
}

std::string raw_frame(unsigned char first_byte, const std::string& payload, bool masked) {
  std::string frame;
  frame.push_back(static_cast<char>(first_byte));
  frame.push_back(static_cast<char>((masked ? 0x80 : 0x00) | payload.size()));
  if (masked) frame.append("\0\0\0\0", 4);  // a zero mask leaves the payload as it is
  return frame + payload;
}

std::string status_line(const std::string& head) { return head.substr(0, head.find("\r\n")); }

}  // namespace chathost::test
