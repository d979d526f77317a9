#include "ws_session_parts.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>


namespace chat::proxy {

using namespace session_parts;

// The upgrade request as it is read: the bytes, and Beast's parser fed
// with them. Bytes behind the request stay in `buffer` (the first frames).
struct WsSession::Upgrade {
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
};

WsSession::WsSession(net::ip::tcp::socket&& socket, std::size_t shard, Bridge& bridge, std::uint64_t id,
                     chat::limits::ConnectionGate::Ticket ticket)
    : socket_(std::move(socket)),
      ticket_(std::move(ticket)),
      timer_(socket_.get_executor()),
      bridge_(bridge),
      shard_(shard),
      id_(id),
      frames_(bridge.options().max_frame_bytes),
      rate_(bridge.options().max_messages_per_second, bridge.options().message_burst) {
  error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
  if (const auto& context = bridge.options().tls_context) {
    tls_ = std::make_unique<Tls>(socket_, *context);
  }
}

WsSession::~WsSession() = default;

void WsSession::run() {
  net::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    if (!self->tls_) return self->do_read_request();
    self->arm_timer(self->bridge_.options().handshake_timeout);
    self->tls_->stream.async_handshake(net::ssl::stream_base::server,
                                       beast::bind_front_handler(&WsSession::on_tls_handshake, self));
  });
}

void WsSession::on_tls_handshake(error_code ec) {
  if (ec) {
    fail(ec, "TLS handshake");
    return hard_close();
  }
  do_read_request();
}

void WsSession::write_out(std::span<const net::const_buffer> buffers,
                          void (WsSession::*on_written)(error_code, std::size_t)) {
  auto handler = beast::bind_front_handler(on_written, shared_from_this());
  if (tls_) {
    net::async_write(tls_->stream, buffers, std::move(handler));
  } else {
    net::async_write(socket_, buffers, std::move(handler));
  }
}

void WsSession::fail(error_code ec, const char* what) {
  if (ec == net::error::operation_aborted) return;
  bridge_.log()->debug("connection {} ({}): {}: {}", id_, peer_, what, ec.message());
}

// ---------------------------------------------------------------------------
// The upgrade

void WsSession::do_read_request() {
  upgrade_ = std::make_unique<Upgrade>();
  upgrade_->parser.header_limit(kHeaderLimit);
  arm_timer(bridge_.options().handshake_timeout);
  parse_request();
}

// What http::async_read does: parse what is buffered, read more while the
// parser needs it, until the request is complete or an error.
void WsSession::parse_request() {
  auto& buffer = upgrade_->buffer;
  auto& parser = upgrade_->parser;
  while (buffer.size() > 0 && !parser.is_done()) {
    error_code ec;
    buffer.consume(parser.put(buffer.data(), ec));
    if (ec == http::error::need_more) break;
    if (ec) return on_read_request(ec);
  }
  if (parser.is_done()) return on_read_request({});
  const auto space = buffer.prepare(beast::read_size(buffer, kRequestReadBytes));
  auto handler = beast::bind_front_handler(&WsSession::on_request_bytes, shared_from_this());
  if (tls_) {
    tls_->stream.async_read_some(space, std::move(handler));
  } else {
    socket_.async_read_some(space, std::move(handler));
  }
}

void WsSession::on_request_bytes(error_code ec, std::size_t bytes) {
  upgrade_->buffer.commit(bytes);
  if (ec == net::error::eof) {
    // The client's end: nothing at all is end_of_stream; a request cut
    // short is what the parser makes of its end.
    if (!upgrade_->parser.got_some()) return on_read_request(http::error::end_of_stream);
    ec = {};
    upgrade_->parser.put_eof(ec);
    return on_read_request(ec);
  }
  if (ec) return on_read_request(ec);
  parse_request();
}

void WsSession::on_read_request(error_code ec) {
  if (ec) {
    if (ec == http::error::header_limit) return answer(upgrade_refusal(431, "request headers too large"));
    fail(ec, "reading the upgrade request");
    return end();
  }
  const auto& request = upgrade_->parser.get();
  UpgradeRequest asked;
  asked.is_get = request.method() == http::verb::get;
  asked.version = request.version();
  asked.target = request.target();
  asked.connection = request[http::field::connection];
  asked.upgrade = request[http::field::upgrade];
  asked.authorization = request[http::field::authorization];
  asked.websocket_version = request[http::field::sec_websocket_version];
  asked.websocket_key = request[http::field::sec_websocket_key];
  if (const auto origin = request.find(http::field::origin); origin != request.end()) asked.origin = origin->value();
  answer(decide_upgrade(asked, bridge_.options()));
}

void WsSession::answer(UpgradeDecision decision) {
  handshake_answer_ = std::move(decision.answer);
  handshake_buffer_ = net::buffer(handshake_answer_);
  if (!decision.target) {
    bridge_.log()->debug("connection {} ({}): upgrade refused ({}): {}", id_, peer_, decision.status, decision.why);
    return write_out({&handshake_buffer_, 1}, &WsSession::on_refusal_written);
  }
  target_ = std::move(*decision.target);
  if (decision.token_expires_at) {
    // The token's clock is the wall clock; the session's is steady.
    token_expires_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(*decision.token_expires_at -
                                                                               std::chrono::system_clock::now());
  }
  write_out({&handshake_buffer_, 1}, &WsSession::on_handshake_written);
}

void WsSession::on_refusal_written(error_code ec, std::size_t /*bytes*/) {
  if (ec || tls_) {
    if (ec) fail(ec, "writing a refusal");
    return hard_close();
  }
  error_code ignored;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  arm_timer(std::chrono::seconds(1));  // the most the drain may take
  drain_then_close();
}

void WsSession::drain_then_close() {
  // Closing with unread bytes (a request cut short at the header limit)
  // would reset the connection and could destroy the answer before the
  // client reads it: read to the client's end first, for a second at most.
  socket_.async_wait(net::ip::tcp::socket::wait_read, [self = shared_from_this()](error_code ec) {
    if (ec || self->ended_) return self->hard_close();
    std::size_t capacity = 0;
    char* scratch = read_scratch(capacity);
    self->socket_.non_blocking(true, ec);
    const std::size_t bytes = self->socket_.read_some(net::buffer(scratch, capacity), ec);
    if (ec == net::error::would_block || ec == net::error::try_again || (!ec && bytes > 0)) {
      return self->drain_then_close();
    }
    self->hard_close();
  });
}

void WsSession::on_handshake_written(error_code ec, std::size_t /*bytes*/) {
  std::string().swap(handshake_answer_);
  if (ec) {
    fail(ec, "accepting the upgrade");
    return end();
  }
  // Bytes that came behind the request are the first frames.
  const auto early = upgrade_->buffer.data();
  std::string first(static_cast<const char*>(early.data()), early.size());
  upgrade_.reset();

  error_code ignored;
  if (tls_) {
    tls_read_buffer_ = std::make_unique<char[]>(kTlsReadBuffer);
  } else {
    socket_.non_blocking(true, ignored);  // reads happen when the socket is readable, never blocking
  }
  opened_ = true;
  heartbeat_.emplace(bridge_.options().idle_timeout, token_expires_, Clock::now());
  bridge_.opened(shared_from_this(), target_);
  arm_heartbeat();
  if (!first.empty() && !consume(first.data(), first.size())) return;
  do_read();
}

// ---------------------------------------------------------------------------
// Timing

void WsSession::arm_timer(Clock::duration after) {
  timer_.expires_after(after);
  timer_.async_wait(beast::bind_front_handler(&WsSession::on_timer, shared_from_this()));
}

void WsSession::on_timer(error_code ec) {
  if (ec || ended_) return;
  if (!opened_) {
    if (handshake_answer_.empty()) {
      bridge_.log()->debug("connection {} ({}): no upgrade request within {} s; dropped", id_, peer_,
                           bridge_.options().handshake_timeout.count());
    }
    return hard_close();
  }
  if (closing_) {
    // The close frame could not get out (the client reads nothing), or the
    // client never answered it: cut the connection.
    return hard_close();
  }
  switch (heartbeat_->check(Clock::now())) {
    case Heartbeat::Due::token_expired:
      bridge_.log()->debug("connection {} ({}, user '{}'): token expired; closed with 1008", id_, peer_,
                           chat_state_.user);
      return do_close(ws::CloseCode::policy_error, "token expired", /*flush=*/true);
    case Heartbeat::Due::drop_silent:
      bridge_.log()->debug("connection {} ({}): silent for {} s; dropped", id_, peer_,
                           std::chrono::duration_cast<std::chrono::seconds>(heartbeat_->idle_timeout()).count());
      return hard_close();
    case Heartbeat::Due::ping: queue_ping(); break;
    case Heartbeat::Due::nothing: break;
  }
  arm_heartbeat();
}

void WsSession::arm_heartbeat() {
  if (const auto next = heartbeat_->next_check(Clock::now())) {
    arm_timer(*next);
  } else {
    timer_.cancel();
  }
}

}  // namespace chat::proxy
