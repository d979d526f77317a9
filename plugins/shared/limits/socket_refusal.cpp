#include "limits/socket_refusal.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <memory>

namespace chat::limits {
namespace {

namespace net = boost::asio;
using boost::system::error_code;

constexpr std::chrono::seconds kDrainTime{1};
constexpr std::size_t kMaxDrainBytes = 64 * 1024;

struct Refusal : std::enable_shared_from_this<Refusal> {
  Refusal(net::ip::tcp::socket s, std::string r, ConnectionGate::Ticket t)
      : socket(std::move(s)), timer(socket.get_executor()), response(std::move(r)), ticket(std::move(t)) {}

  void start() {
    timer.expires_after(kDrainTime);
    timer.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec) self->close();
    });
    net::async_write(socket, net::buffer(response), [self = shared_from_this()](error_code ec, std::size_t) {
      if (ec) return self->close();
      error_code ignored;
      self->socket.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
      self->drain();
    });
  }

  void drain() {
    socket.async_read_some(net::buffer(scratch), [self = shared_from_this()](error_code ec, std::size_t bytes) {
      self->drained += bytes;
      if (ec || self->drained > kMaxDrainBytes) return self->close();
      self->drain();
    });
  }

  void close() {
    error_code ignored;
    timer.cancel();
    socket.close(ignored);
  }

  net::ip::tcp::socket socket;
  net::steady_timer timer;
  std::string response;
  ConnectionGate::Ticket ticket;  // given back when the last handler lets go
  std::array<char, 4096> scratch{};
  std::size_t drained = 0;
};

// "HTTP/1.1 <status>" with a JSON error body, Connection: close and Retry-After.
std::string refusal_response(unsigned status, const std::string& reason, const std::string& error) {
  const std::string body = "{\"error\":\"" + error + "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\nRetry-After: 1\r\n\r\n" + body;
}

}  // namespace

void turn_away(net::ip::tcp::socket socket, ConnectionGate::Admission admission, bool answer, AcceptBackoff& backoff,
               spdlog::logger& log) {
  using Verdict = ConnectionGate::Verdict;
  if (admission.verdict == Verdict::over_files) {
    if (auto line = backoff.failed("refusing connections: this process is nearly out of file descriptors")) {
      log.warn("{}", *line);
    }
    return;  // the socket closes here, unanswered
  }
  error_code ignored;
  const auto from = socket.remote_endpoint(ignored).address().to_string();
  if (admission.verdict == Verdict::dropped || !answer) {
    log.debug("connection from {} closed at once: over the connection limits", from);
    return;
  }
  const bool per_address = admission.verdict == Verdict::over_address;
  log.debug("connection from {} refused: over max_connections{}", from, per_address ? "_per_address" : "");
  static const std::string kTooMany =
      refusal_response(503, "Service Unavailable", "too many connections; try again later");
  static const std::string kTooManyFromYou =
      refusal_response(429, "Too Many Requests", "too many connections from your address");
  std::make_shared<Refusal>(std::move(socket), per_address ? kTooManyFromYou : kTooMany, std::move(admission.ticket))
      ->start();
}

}  // namespace chat::limits
