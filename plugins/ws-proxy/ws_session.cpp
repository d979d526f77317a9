#include "ws_session.hpp"

#include "chat_json.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/read_size.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>

namespace chat::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
// Frames per socket write. Asio hands at most 64 buffers to one writev; two
// are kept for a pong in front and the close frame behind.
constexpr std::size_t kFramesPerWrite = 62;
// Queue slots a session keeps between bursts.
constexpr std::size_t kKeptSlots = 8;
// Reads per wake-up before letting other connections of the thread have a turn.
constexpr int kReadsPerTurn = 4;
// A TLS session's read buffer: one TLS record.
constexpr std::size_t kTlsReadBuffer = 16 * 1024;
// Reads of the upgrade request: at most this much at a time (http::async_read's figure).
constexpr std::size_t kRequestReadBytes = 65536;

// What every connection of an I/O thread reads into: an idle connection owns no buffer.
char* read_scratch(std::size_t& size) {
  thread_local std::array<char, 64 * 1024> scratch;
  size = scratch.size();
  return scratch.data();
}

}  // namespace

struct WsSession::Tls {
  Tls(net::ip::tcp::socket& socket, net::ssl::context& context) : stream(socket, context) {}
  net::ssl::stream<net::ip::tcp::socket&> stream;
};

// The upgrade request as it is read: the bytes, and Beast's parser fed
// with them. Bytes behind the request stay in `buffer` (the first frames).
struct WsSession::Upgrade {
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
};

WsSession::WsSession(net::ip::tcp::socket&& socket, Bridge& bridge, std::uint64_t id,
                     chat::limits::ConnectionGate::Ticket ticket)
    : socket_(std::move(socket)),
      ticket_(std::move(ticket)),
      timer_(socket_.get_executor()),
      bridge_(bridge),
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
  last_heard_ = Clock::now();
  bridge_.opened(shared_from_this(), target_);
  arm_heartbeat();
  if (!first.empty() && !consume(first.data(), first.size())) return;
  do_read();
}

// ---------------------------------------------------------------------------
// Reading

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
    last_heard_ = Clock::now();
    pinged_ = false;
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
  last_heard_ = Clock::now();
  pinged_ = false;
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
      {
        std::lock_guard lock(out_mutex_);
        outbox_.clear();
      }
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
    send(make_error_frame(refusal(Error::INVALID_FRAME, "binary frames are not accepted; send JSON as text frames")));
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
  ErrorInfo error =
      refusal(Error::RATE_LIMITED, "not sent: more than " +
                                       std::to_string(static_cast<long long>(options.max_messages_per_second)) +
                                       " frames a second");
  // Name the refused message, so the client can mark it failed.
  ChatStream frame;
  if (is_text && chat::json::decode(text, frame).empty()) {
    error.frame = payload_name(frame);
    if (frame.has_chat_message()) {
      const auto& message = frame.chat_message();
      if (!check_id(message.id(), "", "")) error.id = message.id();
      if (!check_id(message.room_id(), "", "")) error.room_id = message.room_id();
      if (!check_id(message.sender_id(), "", "")) error.user_id = message.sender_id();
    }
  }
  send(make_error_frame(error));
  if (++strikes_ >= options.rate_limit_strikes) {
    bridge_.log()->info("connection {} ({}): closed for sending too fast ({} frames refused in a row)", id_, peer_,
                        strikes_);
    do_close(ws::CloseCode::policy_error, "too many messages", /*flush=*/true);
  }
}

// ---------------------------------------------------------------------------
// Writing

void WsSession::send(Frame frame) {
  bool post_write = false;
  bool overflow = false;
  {
    std::lock_guard lock(out_mutex_);
    if (out_closed_) return;
    if (outbox_.size() + pongs_owed_ >= bridge_.options().send_queue_limit) {
      out_closed_ = true;
      outbox_.clear();
      overflow = true;
    } else {
      outbox_.push_back(std::move(frame));
      if (!write_scheduled_) {
        write_scheduled_ = true;
        post_write = true;
      }
    }
  }
  if (post_write) net::post(socket_.get_executor(), beast::bind_front_handler(&WsSession::do_write, shared_from_this()));
  if (overflow) net::post(socket_.get_executor(), beast::bind_front_handler(&WsSession::drop_slow, shared_from_this()));
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
  bool over = false;
  {
    std::lock_guard lock(out_mutex_);
    // Answered while a write is pending: the client is owed one more frame.
    if (write_scheduled_ && outbox_.size() + ++pongs_owed_ > bridge_.options().send_queue_limit) {
      out_closed_ = true;
      outbox_.clear();
      over = true;
    }
  }
  if (over) return drop_slow();
  start_control_write();
}

void WsSession::start_control_write() {
  bool start = false;
  {
    std::lock_guard lock(out_mutex_);
    if (!write_scheduled_) write_scheduled_ = start = true;
  }
  if (start) do_write();
}

void WsSession::do_write() {
  // One batch: pongs first, then queued frames, then (once the queue is
  // empty) the close frame; each frame is one buffer, one writev for all.
  {
    std::lock_guard lock(out_mutex_);
    if (ended_) {
      write_scheduled_ = false;
      return;
    }
    const std::size_t take = std::min(outbox_.size(), kFramesPerWrite);
    const auto first = outbox_.begin();
    in_flight_.assign(std::make_move_iterator(first), std::make_move_iterator(first + static_cast<std::ptrdiff_t>(take)));
    outbox_.erase(first, first + static_cast<std::ptrdiff_t>(take));
    const bool close_due = closing_ && !close_in_flight_ && !close_written_ && outbox_.empty();
    if (in_flight_.empty() && pong_.empty() && !ping_due_ && !close_due) {
      write_scheduled_ = false;
      // What grew for a burst is given back; a few slots stay, so steady
      // traffic does not allocate on every write.
      if (outbox_.capacity() > kKeptSlots) std::vector<Frame>().swap(outbox_);
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
  }
  write_out(buffers_, &WsSession::on_write);
}

void WsSession::on_write(error_code ec, std::size_t /*bytes*/) {
  const std::size_t frames = in_flight_.size();
  in_flight_.clear();
  control_in_flight_.clear();
  if (ec) {
    fail(ec, "write");
    {
      std::lock_guard lock(out_mutex_);
      write_scheduled_ = false;
      out_closed_ = true;
      outbox_.clear();
    }
    return hard_close();
  }
  if (frames > 0) bridge_.metrics().messages_out->inc(frames);
  {
    std::lock_guard lock(out_mutex_);
    pongs_owed_ = 0;
  }
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
  bridge_.log()->warn("connection {} ({}, user '{}'): too slow, {} frames waiting; closed with 1008", id_, peer_,
                      chat_state_.user, bridge_.options().send_queue_limit);
  do_close(ws::CloseCode::policy_error, "too slow: frames not read", /*flush=*/false);
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
  const auto now = Clock::now();
  if (token_expires_ && now >= *token_expires_) {
    bridge_.log()->debug("connection {} ({}, user '{}'): token expired; closed with 1008", id_, peer_,
                         chat_state_.user);
    return do_close(ws::CloseCode::policy_error, "token expired", /*flush=*/true);
  }
  const auto idle = bridge_.options().idle_timeout;
  const auto silent = now - last_heard_;
  if (idle.count() > 0 && silent >= idle) {
    // Not even a pong for the idle timeout's second half: the peer is gone.
    bridge_.log()->debug("connection {} ({}): silent for {} s; dropped", id_, peer_, idle.count());
    return hard_close();
  }
  if (idle.count() > 0 && silent >= idle / 2 && !pinged_) {
    pinged_ = true;
    queue_ping();
  }
  arm_heartbeat();
}

void WsSession::arm_heartbeat() {
  // Wakes a few times per idle timeout (to ping, then to drop), and when the token expires.
  std::optional<Clock::duration> next;
  if (const auto idle = bridge_.options().idle_timeout; idle.count() > 0) next = idle / 4;
  if (token_expires_) {
    const auto until_expiry = std::max<Clock::duration>(*token_expires_ - Clock::now(), Clock::duration::zero());
    next = next ? std::min(*next, until_expiry) : until_expiry;
  }
  if (next) {
    arm_timer(*next);
  } else {
    timer_.cancel();
  }
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
  {
    std::lock_guard lock(out_mutex_);
    out_closed_ = true;
    if (!flush) outbox_.clear();
    if (!write_scheduled_) write_scheduled_ = start = true;
  }
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
  {
    std::lock_guard lock(out_mutex_);
    out_closed_ = true;
    outbox_.clear();
  }
  if (opened_) bridge_.closed(*this);
  error_code ignored;
  socket_.close(ignored);
  ticket_ = {};  // the socket's slot is free again
}

}  // namespace chat::proxy
