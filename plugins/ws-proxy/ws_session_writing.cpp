// A session's frames going out: the bounded queue (outbox.hpp), one
// writev per batch, the pings and pongs, and the close.
#include "ws_session_parts.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>

namespace chat::proxy {

using namespace session_parts;

void WsSession::send(Frame frame) { enqueue(std::move(frame), false); }

void WsSession::send_replayed(Frame frame) { enqueue(std::move(frame), true); }

Outbox::Limits WsSession::outbox_limits() const {
  const auto& options = bridge_.options();
  return {options.send_queue_limit, options.send_queue_bytes};
}

void WsSession::enqueue(Frame frame, bool replayed) {
  const auto offer = outbox_.offer(std::move(frame), replayed, outbox_limits());
  if (offer == Outbox::Offer::queued) {
    if (!write_scheduled_) {
      write_scheduled_ = true;
      net::post(socket_.get_executor(), beast::bind_front_handler(&WsSession::do_write, shared_from_this()));
    }
  } else if (offer != Outbox::Offer::closed) {
    slow_by_bytes_ = offer == Outbox::Offer::over_bytes;
    net::post(socket_.get_executor(), beast::bind_front_handler(&WsSession::drop_slow, shared_from_this()));
  }
}

void WsSession::queue_ping() {
  if (closing_) return;  // only the close frame goes out now
  ping_due_ = true;
  start_control_write();
}

void WsSession::queue_pong(std::string_view payload) {
  if (closing_) return;
  // Replaces an unanswered pong in place: however many pings come while
  // the client reads nothing, one pong waits, and no memory is taken.
  ws::control_frame(ws::Opcode::pong, payload, pong_);
  // Answered while a write is pending: the client is owed one more frame.
  if (write_scheduled_ && !outbox_.owe_pong(outbox_limits())) return drop_slow();
  start_control_write();
}

void WsSession::start_control_write() {
  bool start = false;
  {
    if (!write_scheduled_) write_scheduled_ = start = true;
  }
  if (start) do_write();
}

void WsSession::do_write() {
  // One batch: pongs first, then queued frames, then (once the queue is
  // empty) the close frame; each frame is one buffer, one writev for all.
  {
    if (ended_) {
      write_scheduled_ = false;
      return;
    }
    in_flight_.clear();
    outbox_.take(in_flight_, kFramesPerWrite);
    const bool close_due = closing_ && !close_in_flight_ && !close_written_ && outbox_.empty();
    if (in_flight_.empty() && pong_.empty() && !ping_due_ && !close_due) {
      write_scheduled_ = false;
      // What grew for a burst is given back; a few slots stay, so steady
      // traffic does not allocate on every write.
      outbox_.shrink(kKeptSlots);
      if (in_flight_.capacity() > kKeptSlots) std::vector<Frame>().swap(in_flight_);
      if (buffers_.capacity() > kKeptSlots + 2) std::vector<net::const_buffer>().swap(buffers_);
      if (tls_write_buffer_.capacity() > kTlsReadBuffer) std::string().swap(tls_write_buffer_);
      return;
    }
    close_in_flight_ = close_due;
  }
  buffers_.clear();
  if (!pong_.empty() || ping_due_) {
    // Swapped, not copied: both strings keep their capacity for the next ping.
    control_in_flight_.clear();
    control_in_flight_.swap(pong_);
    if (ping_due_) control_in_flight_ += ws::control_frame(ws::Opcode::ping, {});
    ping_due_ = false;
    buffers_.push_back(net::buffer(control_in_flight_));
  }
  for (const auto& frame : in_flight_) {
    const std::string_view wire = frame.wire();
    buffers_.push_back(net::buffer(wire.data(), wire.size()));
  }
  if (close_in_flight_) buffers_.push_back(net::buffer(close_frame_));
  if (tls_) {
    // OpenSSL writes one buffer at a time: one copy makes the batch one TLS write.
    tls_write_buffer_.clear();
    for (const auto& buffer : buffers_) tls_write_buffer_.append(static_cast<const char*>(buffer.data()), buffer.size());
    buffers_.assign(1, net::buffer(tls_write_buffer_));
    return write_out(buffers_, &WsSession::on_write);
  }
  // Tried at once (the socket is non-blocking): a batch the socket takes
  // whole, as nearly all do, costs no completion handler and no turn of
  // the event loop. What it does not take, and any error, go the
  // asynchronous way, so a failure is handled as before, never from
  // inside whatever queued the frames; so does the close frame.
  if (!close_in_flight_) {
    error_code ec;
    const std::size_t written = socket_.write_some(buffers_, ec);
    if (!ec && written == net::buffer_size(buffers_)) return on_write(ec, written);
    if (!ec) {
      // The rest of the batch, from where the socket stopped.
      std::size_t skip = written;
      auto first = buffers_.begin();
      while (skip >= first->size()) skip -= (first++)->size();
      buffers_.erase(buffers_.begin(), first);
      buffers_.front() += skip;
    }
  }
  write_out(buffers_, &WsSession::on_write);
}

void WsSession::on_write(error_code ec, std::size_t /*bytes*/) {
  const std::size_t frames = in_flight_.size();
  in_flight_.clear();
  control_in_flight_.clear();
  if (ec) {
    fail(ec, "write");
    write_scheduled_ = false;
    outbox_.discard();
    return hard_close();
  }
  if (frames > 0) bridge_.metrics().messages_out->inc(frames);
  outbox_.pongs_written();
  if (close_in_flight_) {
    close_in_flight_ = false;
    close_written_ = true;
    // Enough for a few frames sent before the client saw ours, and its
    // close frame; a flood beyond that is left unread until the deadline.
    close_read_budget_ = std::max<std::size_t>(256 * 1024, 2 * bridge_.options().max_frame_bytes);
    // The client's close frame has come (or it broke the protocol): done.
    // Else wait for it, reading again, until the close deadline.
    if (peer_closed_) return finish_close();
    if (read_paused_) {
      read_paused_ = false;
      do_read();
    }
  }
  do_write();
}

void WsSession::drop_slow() {
  bridge_.metrics().slow_clients_dropped->inc();
  const auto& options = bridge_.options();
  const std::string waiting = slow_by_bytes_ ? std::to_string(options.send_queue_bytes) + " bytes of frames"
                                             : std::to_string(options.send_queue_limit) + " frames";
  bridge_.log()->warn("connection {} ({}, user '{}'): too slow, {} waiting; closed with 1008", id_, peer_,
                      chat_state_.user, waiting);
  do_close(ws::CloseCode::policy_error, "too slow: frames not read", /*flush=*/false);
}

// ---------------------------------------------------------------------------
// Closing

void WsSession::close(ws::CloseCode code, std::string reason) {
  net::post(socket_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
    self->do_close(code, reason, /*flush=*/true);
  });
}

void WsSession::do_close(ws::CloseCode code, std::string_view reason, bool flush) {
  if (closing_ || ended_ || !opened_) return;
  closing_ = true;
  close_frame_ = ws::close_frame(code, reason);
  bool start = false;
  outbox_.seal();
  if (!flush) outbox_.discard();
  if (!write_scheduled_) write_scheduled_ = start = true;
  // The close frame can only follow the frames being written. A slow client
  // that reads again within the handshake timeout gets it (and its code); one
  // that reads nothing never lets it out and is cut off then.
  arm_timer(bridge_.options().handshake_timeout);
  if (start) do_write();
}

void WsSession::finish_close() {
  // Both close frames are through: end TLS with its close_notify (the close
  // deadline still bounds it), or TCP with a FIN.
  if (tls_) {
    tls_->stream.async_shutdown([self = shared_from_this()](error_code) { self->hard_close(); });
    return;
  }
  error_code ignored;
  socket_.shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  hard_close();
}

void WsSession::hard_close() {
  error_code ignored;
  socket_.close(ignored);  // cancels the pending wait and write; their handlers see ended_
  end();
}

void WsSession::end() {
  if (ended_) return;
  ended_ = true;
  timer_.cancel();
  outbox_.discard();
  if (opened_) bridge_.closed(*this);
  error_code ignored;
  socket_.close(ignored);
  ticket_ = {};  // the socket's slot is free again
}

}  // namespace chat::proxy
