// A session's frames coming in: reads when the socket is readable, the
// frames they hold, and what each one is handed to.
#include "ws_session_parts.hpp"

#include "chat_json.hpp"

#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>

namespace chat::proxy {

using namespace session_parts;

void WsSession::do_read() {
  // Closing: the client's next frames can only be ignored, and its close
  // frame is awaited once ours is out (on_write reads again then, for a
  // while). Reading stops meanwhile, so a client that sends without reading
  // is held back by its own socket instead of keeping this session busy;
  // the close deadline ends it.
  if (closing_ && (!close_written_ || close_read_budget_ == 0)) {
    read_paused_ = true;
    return;
  }
  if (tls_) {
    tls_->stream.async_read_some(net::buffer(tls_read_buffer_.get(), kTlsReadBuffer),
                                 beast::bind_front_handler(&WsSession::on_tls_read, shared_from_this()));
    return;
  }
  socket_.async_wait(net::ip::tcp::socket::wait_read,
                     beast::bind_front_handler(&WsSession::on_readable, shared_from_this()));
}

void WsSession::on_readable(error_code ec) {
  if (ec) {
    fail(ec, "waiting to read");
    return hard_close();
  }
  if (ended_) return;
  std::size_t capacity = 0;
  char* scratch = read_scratch(capacity);
  for (int turn = 0; turn < kReadsPerTurn; ++turn) {
    const std::size_t bytes = socket_.read_some(net::buffer(scratch, capacity), ec);
    if (ec == net::error::would_block || ec == net::error::try_again) break;
    if (ec) {
      if (ec != net::error::eof && ec != net::error::connection_reset) fail(ec, "read");
      bridge_.log()->debug("connection {} ({}): gone without a close frame", id_, peer_);
      return hard_close();
    }
    heartbeat_->heard(Clock::now());
    if (!consume(scratch, bytes)) return;
    if (bytes < capacity || closing_) break;
  }
  do_read();
}

void WsSession::on_tls_read(error_code ec, std::size_t bytes) {
  if (ec) {
    fail(ec, "read");
    return hard_close();
  }
  if (ended_) return;
  heartbeat_->heard(Clock::now());
  if (!consume(tls_read_buffer_.get(), bytes)) return;
  do_read();
}

bool WsSession::consume(char* data, std::size_t size) {
  if (close_written_) close_read_budget_ -= std::min(size, close_read_budget_);
  frames_.feed(data, size, [this](const ws::Event& event) { on_event(event); });
  return reading_ && !ended_;
}

void WsSession::on_event(const ws::Event& event) {
  using Kind = ws::Event::Kind;
  switch (event.kind) {
    case Kind::text:
    case Kind::binary:
      on_message(event.payload, event.kind == Kind::text);
      return;
    case Kind::ping:
      if (take_control_rate()) queue_pong(event.payload);
      return;
    case Kind::pong:
      take_control_rate();
      return;  // being heard is all a pong is for
    case Kind::close:
      bridge_.log()->debug("connection {} ({}): closed by the client ({})", id_, peer_, event.code);
      reading_ = false;
      peer_closed_ = true;
      if (close_written_) return finish_close();
      // Answer with the same code, after nothing else.
      outbox_.discard();
      return do_close(event.code == static_cast<std::uint16_t>(ws::CloseCode::no_status)
                          ? ws::CloseCode::normal
                          : static_cast<ws::CloseCode>(event.code),
                      {}, /*flush=*/false);
    case Kind::error:
      reading_ = false;
      peer_closed_ = true;  // nothing more is read: closed once our close frame is out
      if (event.code == static_cast<std::uint16_t>(ws::CloseCode::too_big)) {
        bridge_.log()->debug("connection {} ({}): frame over {} bytes; closed with 1009", id_, peer_,
                             bridge_.options().max_frame_bytes);
      } else {
        bridge_.log()->debug("connection {} ({}): {}; closed with {}", id_, peer_, event.why, event.code);
      }
      return do_close(static_cast<ws::CloseCode>(event.code), event.why, /*flush=*/false);
  }
}

void WsSession::on_message(std::string_view text, bool is_text) {
  if (closing_) return;
  bridge_.metrics().messages_in->inc();
  if (!rate_.take()) return refuse_fast_frame(text, is_text);
  strikes_ = 0;
  if (!is_text) {
    send(make_error_frame(make_error(Error::INVALID_FRAME, "binary frames are not accepted; send JSON as text frames")));
    return;
  }
  bridge_.on_text(shared_from_this(), text);
}

bool WsSession::take_control_rate() {
  if (closing_) return false;
  if (rate_.take()) {
    strikes_ = 0;
    return true;
  }
  const auto& options = bridge_.options();
  if (++strikes_ >= options.rate_limit_strikes) {
    bridge_.log()->info("connection {} ({}): closed for sending too fast ({} frames refused in a row)", id_, peer_,
                        strikes_);
    do_close(ws::CloseCode::policy_error, "too many frames", /*flush=*/true);
  }
  return false;
}

void WsSession::refuse_fast_frame(std::string_view text, bool is_text) {
  const auto& options = bridge_.options();
  Error error =
      make_error(Error::RATE_LIMITED, "not sent: more than " +
                                       std::to_string(static_cast<long long>(options.max_messages_per_second)) +
                                       " frames a second");
  // Name the refused message, so the client can mark it failed.
  ChatStream frame;
  if (is_text && chat::json::decode(text, frame).empty()) {
    error.set_frame(std::string(payload_name(frame)));
    if (frame.has_chat_message()) {
      const auto& message = frame.chat_message();
      name_refused(error, message.id(), message.room_id(), message.sender_id());
    }
  }
  send(make_error_frame(error));
  if (++strikes_ >= options.rate_limit_strikes) {
    bridge_.log()->info("connection {} ({}): closed for sending too fast ({} frames refused in a row)", id_, peer_,
                        strikes_);
    do_close(ws::CloseCode::policy_error, "too many messages", /*flush=*/true);
  }
}

}  // namespace chat::proxy
