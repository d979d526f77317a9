// One HTTP/1.1 connection (Beast's advanced-server pattern): its own strand,
// one request at a time (pipelined requests wait in the buffer, answered in
// order), keep-alive, and limits on everything a client controls.
//
//   TLS handshake (https)    request_timeout; a client that is not speaking
//                            TLS (plain http://) is closed without an answer
//   waiting for a request    idle_timeout, then the connection closes
//   reading a request        request_timeout from its first byte; headers
//                            over header_limit -> 431, body over body_limit
//                            -> 413, malformed -> 400, a head refuse_head()
//                            refuses (Transfer-Encoding, no Host) -> 400
//                            before any body (each closes)
//   writing the response     request_timeout
//
// The same session serves http:// (over PlainStream) and https:// (over
// TlsStream); only the handshake and the close differ.
//
// Requests go through Beast's parser and responses through its serializer,
// but the session drives them itself: it reads raw bytes and hands them to
// the parser (what http::async_read does), and writes each response as one
// buffer serialized beforehand. Beast's composed read and write operations,
// instantiated for every stream, handler and buffer type, took most of this
// file's compile time; here each stream only ever sees a read_some and a
// write of one head and one body buffer.
#include "http_session.hpp"

#include "http_api.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <spdlog/logger.h>

#include <array>
#include <optional>
#include <string>
#include <type_traits>

namespace chat::history_http {
namespace {

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// First read of a request: enough for a typical request line and headers.
constexpr std::size_t kFirstReadBytes = 2048;
// Later reads of a request: at most this much at a time (http::async_read's figure).
constexpr std::size_t kReadBytes = 65536;
// After refusing a request, what the client still sends is read and thrown
// away for this long (at most this much) before closing, so that the close
// does not reset the connection before the client has read the refusal.
constexpr std::chrono::milliseconds kDrainTime{1000};
constexpr std::size_t kMaxDrainBytes = 256 * 1024;
// How long a TLS close waits for the client's close_notify.
constexpr std::chrono::milliseconds kTlsShutdownTime{1000};

const boost::system::error_category& http_errors() { return make_error_code(http::error::bad_target).category(); }

// The head of a response as it goes on the wire (status line and fields);
// its body follows it from where it is shared, uncopied.
void serialize_head(Response& response, std::string& head) {
  http::serializer<false, SharedTextBody> serializer{response};
  serializer.split(true);
  head.clear();
  beast::error_code ec;
  do {
    serializer.next(ec, [&](beast::error_code& /*ec*/, const auto& buffers) {
      std::size_t bytes = 0;
      for (const auto buffer : beast::buffers_range_ref(buffers)) {
        head.append(static_cast<const char*>(buffer.data()), buffer.size());
        bytes += buffer.size();
      }
      serializer.consume(bytes);
    });
  } while (!ec && !serializer.is_header_done());
  // Fields in memory cannot fail to serialize.
}

template <typename Stream>
Stream open_stream(tcp::socket&& socket, net::ssl::context* tls) {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    return Stream(std::move(socket), *tls);
  } else {
    static_cast<void>(tls);
    return Stream(std::move(socket));
  }
}

template <typename Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  // `tls`: the server's context for a TlsStream session (kept alive by the
  // session); nullptr for a PlainStream one.
  HttpSession(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, const HttpApi& api,
              const ConnectionLimits& limits, std::shared_ptr<spdlog::logger> log,
              chat::limits::ConnectionGate::Ticket ticket);

  void run();

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  beast::tcp_stream& lowest_layer() { return beast::get_lowest_layer(stream_); }
  void on_handshake(beast::error_code ec);
  void do_read();
  void on_first_bytes(beast::error_code ec, std::size_t bytes);
  void do_read_request();
  void parse();
  void on_request_bytes(beast::error_code ec, std::size_t bytes);
  void on_read(beast::error_code ec);
  void send(Response response);
  void on_write(beast::error_code ec, std::size_t bytes);
  void refuse(http::status status, std::string_view why);
  void do_close();
  void close_tcp();
  void on_drain(beast::error_code ec, std::size_t bytes);
  void fail(beast::error_code ec, std::string_view what);

  std::shared_ptr<net::ssl::context> tls_;  // before stream_, which uses it
  Stream stream_;
  chat::limits::ConnectionGate::Ticket ticket_;  // the socket's slot, given back with the session
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool head_checked_ = false;  // refuse_head() has seen this request's head
  std::string head_;           // the head of the response being written
  SharedText body_;            // its body, held until the write completes
  std::shared_ptr<const void> hold_;  // what the response being written keeps reserved (Reply)
  bool close_after_write_ = false;
  const HttpApi& api_;
  const ConnectionLimits limits_;
  std::shared_ptr<spdlog::logger> log_;
  std::string peer_;
  tcp::endpoint local_;  // the address the client reached, read once at accept
  // After refusing a request we did not read to its end.
  bool drain_before_close_ = false;
  std::size_t drained_ = 0;
  std::array<char, 4096> drain_buffer_{};
};

template <typename Stream>
HttpSession<Stream>::HttpSession(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, const HttpApi& api,
                                 const ConnectionLimits& limits, std::shared_ptr<spdlog::logger> log,
                                 chat::limits::ConnectionGate::Ticket ticket)
    : tls_(std::move(tls)),
      stream_(open_stream<Stream>(std::move(socket), tls_.get())),
      ticket_(std::move(ticket)),
      api_(api),
      limits_(limits),
      log_(std::move(log)) {
  beast::error_code ec;
  const auto remote = lowest_layer().socket().remote_endpoint(ec);
  if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
  local_ = lowest_layer().socket().local_endpoint(ec);
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
  head_checked_ = false;
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
  parse();
}

// What http::async_read does: parse what is buffered, read more while the
// parser needs it, until the request is complete or an error.
template <typename Stream>
void HttpSession<Stream>::parse() {
  while (buffer_.size() > 0 && !parser_->is_done()) {
    beast::error_code ec;
    buffer_.consume(parser_->put(buffer_.data(), ec));
    if (ec == http::error::need_more) break;
    if (ec) return on_read(ec);
    // The head is judged before any of the body is read.
    if (parser_->is_header_done() && !head_checked_) {
      head_checked_ = true;
      if (auto why = refuse_head(parser_->get())) return refuse(http::status::bad_request, *why);
    }
  }
  if (parser_->is_done()) return on_read({});
  stream_.async_read_some(buffer_.prepare(beast::read_size(buffer_, kReadBytes)),
                          beast::bind_front_handler(&HttpSession::on_request_bytes, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::on_request_bytes(beast::error_code ec, std::size_t bytes) {
  buffer_.commit(bytes);
  if (ec == net::error::eof) {
    // The client's end: the request is complete if its end is where the
    // stream ends; nothing at all is end_of_stream.
    if (!parser_->got_some()) return on_read(http::error::end_of_stream);
    ec = {};
    parser_->put_eof(ec);
    return on_read(ec);
  }
  if (ec) return on_read(ec);
  parse();
}

template <typename Stream>
void HttpSession<Stream>::on_read(beast::error_code ec) {
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

  try {
    api_.handle(parser_->release(), local_,
                [self = this->shared_from_this()](Response response, std::shared_ptr<const void> hold) {
                  net::post(self->stream_.get_executor(),
                            [self, response = std::move(response), hold = std::move(hold)]() mutable {
                              self->hold_ = std::move(hold);
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
  close_after_write_ = response.need_eof();
  serialize_head(response, head_);
  body_ = std::move(response.body());
  const auto body = body_.view();
  const std::array<net::const_buffer, 2> wire{net::const_buffer(head_.data(), head_.size()),
                                              net::const_buffer(body.data(), body.size())};
  lowest_layer().expires_after(limits_.request_timeout);
  net::async_write(stream_, wire, beast::bind_front_handler(&HttpSession::on_write, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::on_write(beast::error_code ec, std::size_t /*bytes*/) {
  hold_.reset();  // written (or never will be): its share is free
  body_.clear();
  if (ec) return fail(ec, "write");
  if (close_after_write_) return do_close();
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
  lowest_layer().async_read_some(net::mutable_buffer(drain_buffer_.data(), drain_buffer_.size()),
                                 beast::bind_front_handler(&HttpSession::on_drain, this->shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::on_drain(beast::error_code ec, std::size_t bytes) {
  drained_ += bytes;
  if (ec || drained_ > kMaxDrainBytes) return;  // EOF, timeout or enough: close
  lowest_layer().async_read_some(net::mutable_buffer(drain_buffer_.data(), drain_buffer_.size()),
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

}  // namespace

void serve_connection(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls, const HttpApi& api,
                      const ConnectionLimits& limits, std::shared_ptr<spdlog::logger> log,
                      chat::limits::ConnectionGate::Ticket ticket) {
  if (tls) {
    std::make_shared<HttpSession<TlsStream>>(std::move(socket), std::move(tls), api, limits, std::move(log),
                                             std::move(ticket))
        ->run();
  } else {
    std::make_shared<HttpSession<PlainStream>>(std::move(socket), nullptr, api, limits, std::move(log),
                                               std::move(ticket))
        ->run();
  }
}

}  // namespace chat::history_http
