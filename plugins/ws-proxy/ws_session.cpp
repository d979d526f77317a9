#include "ws_session.hpp"

#include "chat_json.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

namespace chat::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace {

constexpr std::size_t kHeaderLimit = 8 * 1024;
// A read buffer that grew for one large frame is given back after it.
constexpr std::size_t kKeptReadBuffer = 16 * 1024;
constexpr const char* kServerName = "chat-host ws-proxy";

}  // namespace

WsSession::WsSession(net::ip::tcp::socket&& socket, Bridge& bridge, std::uint64_t id)
    : ws_(std::move(socket)),
      bridge_(bridge),
      id_(id),
      rate_(bridge.options().max_messages_per_second, bridge.options().message_burst) {
  beast::error_code ec;
  const auto remote = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
  if (!ec) peer_ = remote.address().to_string() + ":" + std::to_string(remote.port());
}

WsSession::~WsSession() = default;

void WsSession::run() {
  net::dispatch(ws_.get_executor(), beast::bind_front_handler(&WsSession::do_read_request, shared_from_this()));
}

void WsSession::fail(beast::error_code ec, const char* what) {
  if (ec == net::error::operation_aborted || ec == websocket::error::closed) return;
  bridge_.log()->debug("connection {} ({}): {}: {}", id_, peer_, what, ec.message());
}

// ---------------------------------------------------------------------------
// The upgrade

void WsSession::do_read_request() {
  parser_.emplace();
  parser_->header_limit(kHeaderLimit);
  beast::get_lowest_layer(ws_).expires_after(bridge_.options().handshake_timeout);
  http::async_read(ws_.next_layer(), buffer_, *parser_,
                   beast::bind_front_handler(&WsSession::on_read_request, shared_from_this()));
}

void WsSession::on_read_request(beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) {
    fail(ec, "reading the upgrade request");
    return end();
  }
  const Request& request = parser_->get();
  if (!websocket::is_upgrade(request)) {
    return refuse(http::status::upgrade_required, "this is a WebSocket endpoint: connect with ws://");
  }
  TargetCheck check = check_target(request.target());
  if (!check.target) return refuse(static_cast<http::status>(check.http_status), check.error);
  const auto origin = request.find(http::field::origin);
  const bool has_origin = origin != request.end();
  if (!origin_allowed(has_origin ? std::string_view(origin->value()) : std::string_view{}, has_origin,
                      bridge_.options().allowed_origins)) {
    bridge_.log()->debug("connection {} ({}): origin '{}' refused", id_, peer_, std::string(origin->value()));
    return refuse(http::status::forbidden, "origin not allowed");
  }
  if (!bridge_.try_admit()) {
    bridge_.log()->debug("connection {} ({}): refused, {} connections open", id_, peer_,
                         bridge_.options().max_connections);
    return refuse(http::status::service_unavailable, "too many connections; try again later");
  }
  admitted_ = true;
  target_ = std::move(*check.target);

  beast::get_lowest_layer(ws_).expires_never();  // the websocket stream times itself from here
  websocket::stream_base::timeout timeout = websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeout.handshake_timeout = bridge_.options().handshake_timeout;
  timeout.idle_timeout = bridge_.options().idle_timeout;
  ws_.set_option(timeout);
  ws_.set_option(websocket::permessage_deflate{});  // off: no per-connection zlib state
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, kServerName); }));
  ws_.read_message_max(bridge_.options().max_frame_bytes);
  ws_.auto_fragment(false);
  ws_.text(true);
  ws_.async_accept(request, beast::bind_front_handler(&WsSession::on_accept, shared_from_this()));
}

void WsSession::refuse(http::status status, std::string why) {
  refusal_ = std::make_unique<Response>(status, parser_->get().version());
  refusal_->set(http::field::server, kServerName);
  refusal_->set(http::field::content_type, "text/plain; charset=utf-8");
  if (status == http::status::service_unavailable) refusal_->set(http::field::retry_after, "5");
  refusal_->keep_alive(false);
  refusal_->body() = std::move(why) + "\n";
  refusal_->prepare_payload();
  http::async_write(ws_.next_layer(), *refusal_, beast::bind_front_handler(&WsSession::on_refused, shared_from_this()));
}

void WsSession::on_refused(beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) fail(ec, "writing a refusal");
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  end();
}

void WsSession::on_accept(beast::error_code ec) {
  parser_.reset();
  if (ec) {
    fail(ec, "accepting the upgrade");
    return end();
  }
  opened_ = true;
  bridge_.opened(shared_from_this(), target_);
  do_read();
}

// ---------------------------------------------------------------------------
// Reading

void WsSession::do_read() {
  ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::on_read, shared_from_this()));
}

void WsSession::on_read(beast::error_code ec, std::size_t /*bytes*/) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      // Beast has already closed with 1009 (message too big).
      bridge_.log()->debug("connection {} ({}): frame over {} bytes; closed with 1009", id_, peer_,
                           bridge_.options().max_frame_bytes);
    } else if (ec == websocket::error::closed) {
      bridge_.log()->debug("connection {} ({}): closed by the client ({})", id_, peer_, ws_.reason().code);
    } else if (ec == beast::error::timeout) {
      // Not even a pong for the idle timeout's second half: the peer is gone.
      bridge_.log()->debug("connection {} ({}): silent for {} s; dropped", id_, peer_,
                           bridge_.options().idle_timeout.count());
    } else {
      fail(ec, "read");
    }
    return end();
  }
  if (ended_) return;
  bridge_.metrics().messages_in->inc();
  if (!closing_) {
    if (rate_.take()) {
      strikes_ = 0;
      handle_frame();
    } else {
      refuse_fast_frame();
    }
  }
  buffer_.consume(buffer_.size());
  if (buffer_.capacity() > kKeptReadBuffer) buffer_.shrink_to_fit();
  // Also while closing: the read sees the client's close frame and ends the session.
  do_read();
}

void WsSession::handle_frame() {
  if (!ws_.got_text()) {
    send(make_error_frame(refusal(Error::INVALID_FRAME, "binary frames are not accepted; send JSON as text frames")));
    return;
  }
  const auto data = buffer_.cdata();
  bridge_.on_text(shared_from_this(), std::string_view(static_cast<const char*>(data.data()), data.size()));
}

void WsSession::refuse_fast_frame() {
  const auto& options = bridge_.options();
  ErrorInfo error =
      refusal(Error::RATE_LIMITED, "not sent: more than " +
                                       std::to_string(static_cast<long long>(options.max_messages_per_second)) +
                                       " frames a second");
  // Name the refused message, so the client can mark it failed.
  ChatStream frame;
  const auto data = buffer_.cdata();
  if (ws_.got_text() &&
      chat::json::decode(std::string_view(static_cast<const char*>(data.data()), data.size()), frame).empty()) {
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
    do_close(websocket::close_code::policy_error, "too many messages", /*flush=*/true);
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
    if (outbox_.size() >= bridge_.options().send_queue_limit) {
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
  if (post_write) net::post(ws_.get_executor(), beast::bind_front_handler(&WsSession::do_write, shared_from_this()));
  if (overflow) net::post(ws_.get_executor(), beast::bind_front_handler(&WsSession::drop_slow, shared_from_this()));
}

void WsSession::do_write() {
  bool close_now = false;
  {
    std::lock_guard lock(out_mutex_);
    if (outbox_.empty() || ended_) {
      write_scheduled_ = false;
      if (closing_ && !ended_) close_now = true;
    } else {
      in_flight_ = std::move(outbox_.front());
      outbox_.pop_front();
    }
  }
  if (close_now) return start_close();
  if (!in_flight_) return;
  // One frame per write for now; the queue already allows writing several
  // queued frames at once (coalescing) later.
  ws_.async_write(net::buffer(*in_flight_), beast::bind_front_handler(&WsSession::on_write, shared_from_this()));
}

void WsSession::on_write(beast::error_code ec, std::size_t /*bytes*/) {
  in_flight_.reset();
  if (ec) {
    fail(ec, "write");
    std::lock_guard lock(out_mutex_);
    write_scheduled_ = false;
    out_closed_ = true;
    outbox_.clear();
    return;
  }
  bridge_.metrics().messages_out->inc();
  do_write();
}

void WsSession::drop_slow() {
  bridge_.metrics().slow_clients_dropped->inc();
  bridge_.log()->warn("connection {} ({}, user '{}'): too slow, {} frames waiting; closed with 1008", id_, peer_,
                      chat_state_.user, bridge_.options().send_queue_limit);
  do_close(websocket::close_code::policy_error, "too slow: frames not read", /*flush=*/false);
}

// ---------------------------------------------------------------------------
// Closing

void WsSession::close(websocket::close_code code, std::string reason) {
  net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
    self->do_close(code, std::move(reason), /*flush=*/true);
  });
}

void WsSession::do_close(websocket::close_code code, std::string reason, bool flush) {
  if (closing_ || ended_ || !opened_) return;
  closing_ = true;
  close_reason_ = websocket::close_reason(code, reason);
  bool writing = false;
  {
    std::lock_guard lock(out_mutex_);
    out_closed_ = true;
    if (!flush) outbox_.clear();
    writing = write_scheduled_;
  }
  // The close frame can only follow the frame being written. A slow client
  // that reads again within the handshake timeout gets it (and its code); one
  // that reads nothing never lets it out and is cut off then.
  close_timer_.emplace(ws_.get_executor());
  close_timer_->expires_after(bridge_.options().handshake_timeout);
  close_timer_->async_wait(beast::bind_front_handler(&WsSession::on_close_timeout, shared_from_this()));
  // With a write going on, do_write starts the close once the queue is empty.
  if (!writing) start_close();
}

void WsSession::start_close() {
  if (close_started_) return;
  close_started_ = true;
  ws_.async_close(close_reason_, beast::bind_front_handler(&WsSession::on_close, shared_from_this()));
}

void WsSession::on_close(beast::error_code ec) {
  if (ec) fail(ec, "close");
  end();
}

void WsSession::on_close_timeout(beast::error_code ec) {
  if (ec || ended_) return;
  // Cancels the stuck write and the close; their handlers end the session.
  beast::get_lowest_layer(ws_).close();
}

void WsSession::end() {
  if (ended_) return;
  ended_ = true;
  if (close_timer_) close_timer_->cancel();
  {
    std::lock_guard lock(out_mutex_);
    out_closed_ = true;
    outbox_.clear();
  }
  if (opened_) bridge_.closed(*this);
  if (admitted_) bridge_.release_admission();
}

}  // namespace chat::proxy
