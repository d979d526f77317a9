// One HTTP/1.1 connection (Beast's advanced-server pattern): its own strand,
// one request at a time (pipelined requests wait in the buffer, answered in
// order), keep-alive, and limits on everything a client controls.
//
//   waiting for a request    idle_timeout, then the connection closes
//   reading a request        request_timeout from its first byte; headers
//                            over header_limit -> 431, body over body_limit
//                            -> 413, malformed -> 400 (each closes)
//   writing the response     request_timeout
#pragma once

#include "http_api.hpp"
#include "http_types.hpp"

#include <spdlog/logger.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace chat::history_http {

struct ConnectionLimits {
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds request_timeout{10000};
  std::uint32_t header_limit = 8 * 1024;
  std::uint64_t body_limit = 64 * 1024;
};

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, const HttpApi& api, const ConnectionLimits& limits,
              std::shared_ptr<spdlog::logger> log);

  void run();

 private:
  void do_read();
  void on_first_bytes(beast::error_code ec, std::size_t bytes);
  void do_read_request();
  void on_read(beast::error_code ec, std::size_t bytes);
  void send(Response response);
  void on_write(bool close, beast::error_code ec, std::size_t bytes);
  void refuse(http::status status, std::string_view why);
  void do_close();
  void on_drain(beast::error_code ec, std::size_t bytes);
  void fail(beast::error_code ec, std::string_view what);

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<Response> response_;  // alive until its write completes
  const HttpApi& api_;
  const ConnectionLimits limits_;
  std::shared_ptr<spdlog::logger> log_;
  std::string peer_;
  // After refusing a request we did not read to its end.
  bool drain_before_close_ = false;
  std::size_t drained_ = 0;
  std::array<char, 4096> drain_buffer_{};
};

}  // namespace chat::history_http
