// One HTTP/1.1 connection of history-http: its limits, and the call that
// serves an accepted socket until the connection ends. The session itself
// (http_session.cpp) is the only place that reads and writes HTTP on a
// stream.
#pragma once

#include "http_types.hpp"

#include "limits/connection_gate.hpp"

#include <chrono>
#include <cstdint>
#include <memory>

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace spdlog {
class logger;
}  // namespace spdlog

namespace chat::history_http {

class HttpApi;

// Filled from history-http's keys (idle_timeout_ms, ...), which hold the
// defaults; header_limit is fixed.
struct ConnectionLimits {
  std::chrono::milliseconds idle_timeout{};
  std::chrono::milliseconds request_timeout{};
  std::uint32_t header_limit = 8 * 1024;
  std::uint64_t body_limit = 0;
  // Sockets, counted from accept (the server's ConnectionGate).
  std::size_t max_connections = 0;
  std::size_t max_connections_per_address = 0;  // 0: no limit
};

// Serves requests on `socket` (already on a strand of its own) until the
// connection ends; returns at once. `tls`: https:// with this context (kept
// alive by the session); nullptr: http://. `api` must outlive the
// connection (the server's io_context stops before it goes). `ticket`: the
// socket's slot of the server's ConnectionGate, held until the connection ends.
void serve_connection(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, const HttpApi& api,
                      const ConnectionLimits& limits, std::shared_ptr<spdlog::logger> log,
                      chat::limits::ConnectionGate::Ticket ticket);

}  // namespace chat::history_http
