// One HTTP/1.1 connection (Beast's advanced-server pattern): its own strand,
// one request at a time (pipelined requests wait in the buffer, answered in
// order), keep-alive, and limits on everything a client controls.
//
//   TLS handshake (https)    request_timeout; a client that is not speaking
//                            TLS (plain http://) is closed without an answer
//   waiting for a request    idle_timeout, then the connection closes
//   reading a request        request_timeout from its first byte; headers
//                            over header_limit -> 431, body over body_limit
//                            -> 413, malformed -> 400 (each closes)
//   writing the response     request_timeout
//
// The same session serves http:// (over PlainStream) and https:// (over
// TlsStream); only the handshake and the close differ.
#pragma once

#include "http_api.hpp"
#include "http_types.hpp"

#include <boost/beast/ssl.hpp>
#include <spdlog/logger.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>

namespace chat::history_http {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct ConnectionLimits {
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds request_timeout{10000};
  std::uint32_t header_limit = 8 * 1024;
  std::uint64_t body_limit = 64 * 1024;
};

template <typename Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  // `tls`: the server's context for a TlsStream session (kept alive by the
  // session); nullptr for a PlainStream one.
  HttpSession(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, const HttpApi& api,
              const ConnectionLimits& limits, std::shared_ptr<spdlog::logger> log);

  void run();

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  beast::tcp_stream& lowest_layer() { return beast::get_lowest_layer(stream_); }
  void on_handshake(beast::error_code ec);
  void do_read();
  void on_first_bytes(beast::error_code ec, std::size_t bytes);
  void do_read_request();
  void on_read(beast::error_code ec, std::size_t bytes);
  void send(Response response);
  void on_write(bool close, beast::error_code ec, std::size_t bytes);
  void refuse(http::status status, std::string_view why);
  void do_close();
  void close_tcp();
  void on_drain(beast::error_code ec, std::size_t bytes);
  void fail(beast::error_code ec, std::string_view what);

  std::shared_ptr<net::ssl::context> tls_;  // before stream_, which uses it
  Stream stream_;
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

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

}  // namespace chat::history_http
