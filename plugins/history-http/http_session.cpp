#include "http_session.hpp"

namespace chat::history_http {
namespace {

// First read of a request: enough for a typical request line and headers.
constexpr std::size_t kFirstReadBytes = 2048;
// After refusing a request, what the client still sends is read and thrown
// away for this long (at most this much) before closing, so that the close
// does not reset the connection before the client has read the refusal.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr std::size_t kMaxDrainBytes = 256 * 1024;
// How long a TLS close waits for the client's close_notify.
constexpr std::chrono::milliseconds kTlsShutdownTime{1000};

const boost::system::error_category& http_errors() { return make_error_code(http::error::bad_target).category(); }

template <typename Stream>
Stream open_stream(tcp::socket&& socket, net::ssl::context* tls) {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    return Stream(std::move(socket), *tls);
  } else {
    static_cast<void>(tls);
    return Stream(std::move(socket));
  }
}

}  // namespace

template <typename Stream>
HttpSession<Stream>::HttpSession(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, const HttpApi& api,
                                 const ConnectionLimits& limits, std::shared_ptr<spdlog::logger> log)
    : tls_(std::move(tls)),
      stream_(open_stream<Stream>(std::move(socket), tls_.get())),
      api_(api),
      limits_(limits),
      log_(std::move(log)) {
  beast::error_code ec;
  const auto remote = lowest_layer().socket().remote_endpoint(ec);
  if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
}

template <typename Stream>
void HttpSession<Stream>::run() {
  // Everything of this session runs on its strand (made at accept).
  net::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
    if constexpr (kTls) {
      self->lowest_layer().expires_after(self->limits_.request_timeout);
      self->stream_.async_handshake(net::ssl::stream_base::server,
                                    beast::bind_front_handler(&HttpSession::on_handshake, self));
    } else {
      self->do_read();
    }
  });
}

template <typename Stream>
void HttpSession<Stream>::on_handshake(beast::error_code ec) {
  if (ec) return fail(ec, "TLS handshake");
  do_read();
}

template <typename Stream>
void HttpSession<Stream>::do_read() {
  parser_.emplace();
  parser_->header_limit(limits_.header_limit);
  parser_->body_limit(limits_.body_limit);
  if (buffer_.size() > 0) return do_read_request();  // a pipelined request is already here
  // Waiting for the next request: the idle timeout. Its first bytes start
  // the request timeout.
  lowest_layer().expires_after(limits_.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kFirstReadBytes),
                          beast::bind_front_handler(&HttpSession::on_first_bytes, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::on_first_bytes(beast::error_code ec, std::size_t bytes) {
  if (ec) return fail(ec, "waiting for a request");
  buffer_.commit(bytes);
  do_read_request();
}

template <typename Stream>
void HttpSession<Stream>::do_read_request() {
  lowest_layer().expires_after(limits_.request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&HttpSession::on_read, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::on_read(beast::error_code ec, std::size_t /*bytes*/) {
  if (ec == http::error::header_limit) {
    return refuse(http::status::request_header_fields_too_large,
                  "request headers larger than " + std::to_string(limits_.header_limit) + " bytes");
  }
  if (ec == http::error::body_limit) {
    return refuse(http::status::payload_too_large,
                  "request body larger than " + std::to_string(limits_.body_limit) + " bytes");
  }
  if (ec && ec != http::error::end_of_stream && ec != http::error::partial_message && ec.category() == http_errors()) {
    return refuse(http::status::bad_request, "malformed request: " + ec.message());
  }
  if (ec) return fail(ec, "read");

  beast::error_code local_ec;
  const auto local = lowest_layer().socket().local_endpoint(local_ec);
  try {
    api_.handle(parser_->release(), local, [self = this->shared_from_this()](Response response) {
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->send(std::move(response));
      });
    });
  } catch (const std::exception& e) {
    log_->error("request from {} failed: {}", peer_, e.what());
    refuse(http::status::internal_server_error, "internal error");
  }
}

template <typename Stream>
void HttpSession<Stream>::send(Response response) {
  response_ = std::move(response);
  const bool close = response_->need_eof();
  lowest_layer().expires_after(limits_.request_timeout);
  http::async_write(stream_, *response_,
                    beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this(), close));
}

template <typename Stream>
void HttpSession<Stream>::on_write(bool close, beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) return fail(ec, "write");
  response_.reset();
  if (close) return do_close();
  do_read();
}

template <typename Stream>
void HttpSession<Stream>::refuse(http::status status, std::string_view why) {
  log_->debug("refusing a request from {}: {}", peer_, why);
  drain_before_close_ = true;
  send(api_.refuse_unreadable(status, why));
}

template <typename Stream>
void HttpSession<Stream>::do_close() {
  if constexpr (kTls) {
    // close_notify first, so the client can tell the end of the response
    // from a cut connection; then the TCP close, whatever the client answers.
    lowest_layer().expires_after(kTlsShutdownTime);
    stream_.async_shutdown([self = this->shared_from_this()](beast::error_code /*ec*/) { self->close_tcp(); });
  } else {
    close_tcp();
  }
}

template <typename Stream>
void HttpSession<Stream>::close_tcp() {
  beast::error_code ec;
  lowest_layer().socket().shutdown(tcp::socket::shutdown_send, ec);
  if (!drain_before_close_ || ec) return;  // the session ends here, closing the socket
  lowest_layer().expires_after(kDrainTime);
  // Below TLS, if any: the bytes are thrown away unread.
  lowest_layer().async_read_some(net::buffer(drain_buffer_),
                        beast::bind_front_handler(&HttpSession::on_drain, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::on_drain(beast::error_code ec, std::size_t bytes) {
  drained_ += bytes;
  if (ec || drained_ > kMaxDrainBytes) return;  // EOF, timeout or enough: close
  lowest_layer().async_read_some(net::buffer(drain_buffer_),
                        beast::bind_front_handler(&HttpSession::on_drain, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::fail(beast::error_code ec, std::string_view what) {
  // Stopping, or the client hung up between requests: nothing to report.
  if (ec == net::error::operation_aborted || ec == http::error::end_of_stream || ec == net::error::eof) return;
  // A TLS client that closed without close_notify: the same as a hang-up.
  if (ec == net::ssl::error::stream_truncated) return;
  // Timeouts, resets and failed handshakes are the clients' business: debug only.
  log_->debug("connection {}: {}: {}", peer_, what, ec.message());
}

template class HttpSession<PlainStream>;
template class HttpSession<TlsStream>;

}  // namespace chat::history_http
