#include "load_client.hpp"

#include "load_worker.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/websocket/error.hpp>

namespace chathost::bench {

namespace net = boost::asio;
namespace websocket = boost::beast::websocket;
using tcp = net::ip::tcp;

LoadClient::LoadClient(LoadWorker& worker, std::uint32_t number, std::uint32_t room, const Target& target,
                       std::optional<net::ip::address> source)
    : worker_(worker),
      target_(target),
      ws_(worker.context()),
      source_(source),
      number_(number),
      room_(room) {}

void LoadClient::connect() {
  state_ = State::Connecting;
  auto& socket = ws_.next_layer();
  boost::system::error_code ec;
  socket.open(target_.endpoint.protocol(), ec);
  if (!ec && source_) {
    // Bind the address only; the port is picked at connect time, so one
    // source address can reach several servers with the same local port.
    int on = 1;
    ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    socket.bind(tcp::endpoint(*source_, 0), ec);
  }
  if (ec) {
    on_connect(ec);
    return;
  }
  socket.async_connect(target_.endpoint, [this](const boost::system::error_code& e) { on_connect(e); });
}

void LoadClient::on_connect(const boost::system::error_code& ec) {
  if (ec) {
    connect_failed("connect to " + target_.url + ": " + ec.message());
    return;
  }
  boost::system::error_code ignored;
  ws_.next_layer().set_option(tcp::no_delay(true), ignored);
  ws_.set_option(websocket::stream_base::timeout{std::chrono::seconds(15), websocket::stream_base::none(), false});
  ws_.text(true);
  ws_.auto_fragment(false);
  ws_.secure_prng(false);  // mask keys need not be secret in a benchmark
  ws_.write_buffer_bytes(1024);
  ws_.read_message_max(1 << 20);
  ws_.async_handshake(target_.host_header, target_.path,
                      [this](const boost::system::error_code& e) { on_handshake(e); });
}

void LoadClient::on_handshake(const boost::system::error_code& ec) {
  if (ec) {
    connect_failed("handshake with " + target_.url + ": " + ec.message());
    return;
  }
  state_ = State::Open;
  worker_.connect_done(true, {});
  read();
}

void LoadClient::connect_failed(const std::string& why) {
  state_ = State::Closed;
  boost::system::error_code ignored;
  ws_.next_layer().close(ignored);
  worker_.connect_done(false, why);
}

void LoadClient::read() {
  ws_.async_read(in_, [this](const boost::system::error_code& ec, std::size_t) { on_read(ec); });
}

void LoadClient::on_read(const boost::system::error_code& ec) {
  if (ec) {
    lost("read", ec);
    return;
  }
  auto data = in_.cdata();
  worker_.frame_received(*this, std::string_view(static_cast<const char*>(data.data()), data.size()));
  in_.consume(in_.size());
  read();
}

void LoadClient::send(Phase phase) {
  if (state_ != State::Open) return;
  if (writing_) {
    if (pending_ >= kMaxPending) {
      ++worker_.counters().send_backlog_drops;
      return;
    }
    ++pending_;
    pending_phase_ = phase;
    return;
  }
  write(phase);
}

void LoadClient::send_burst(Phase phase, std::uint32_t count) {
  if (state_ != State::Open || count == 0) return;
  pending_ += writing_ ? count : count - 1;
  pending_phase_ = phase;
  if (!writing_) write(phase);
}

void LoadClient::write(Phase phase) {
  const auto now = steady_now_ns();
  if (phase == Phase::Warmup || phase == Phase::Measured) {
    auto by_clock = worker_.phase_at(now);
    if (!by_clock) {  // the window is over: what is still queued is not sent
      pending_ = 0;
      return;
    }
    phase = *by_clock;
  }
  const auto& plan = worker_.plan();
  write_chat_frame(out_, OutgoingMessage{.tag = plan.tag,
                                         .room = plan.room_names[room_],
                                         .sender_prefix = plan.sender_prefix,
                                         .client = number_,
                                         .phase = phase,
                                         .seq = seq_++,
                                         .send_ns = now,
                                         .content_size = plan.content_size});
  worker_.message_sent(*this, phase);
  writing_ = true;
  ws_.async_write(net::buffer(out_),
                  [this](const boost::system::error_code& ec, std::size_t) { on_write(ec); });
}

void LoadClient::on_write(const boost::system::error_code& ec) {
  writing_ = false;
  if (ec) {
    lost("write", ec);
    return;
  }
  if (pending_ > 0 && state_ == State::Open) {
    --pending_;
    write(pending_phase_);
  }
}

void LoadClient::ping() {
  if (state_ != State::Open || pinging_) return;
  pinging_ = true;
  ws_.async_ping({}, [this](const boost::system::error_code& ec) {
    pinging_ = false;
    if (ec) lost("ping", ec);
  });
}

void LoadClient::close() {
  if (state_ != State::Open) {
    if (state_ == State::Connecting) abort();
    return;
  }
  state_ = State::Closing;
  ws_.async_close(websocket::close_code::normal, [this](const boost::system::error_code&) {
    boost::system::error_code ignored;
    ws_.next_layer().close(ignored);
    if (state_ != State::Closed) {
      state_ = State::Closed;
      --worker_.counters().open;
    }
  });
}

void LoadClient::abort() {
  const bool was_open = state_ == State::Open || state_ == State::Closing;
  boost::system::error_code ignored;
  ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ws_.next_layer().close(ignored);
  if (state_ == State::Connecting) return;  // on_connect/on_handshake report it
  state_ = State::Closed;
  if (was_open) --worker_.counters().open;
}

void LoadClient::lost(const char* during, const boost::system::error_code& ec) {
  if (state_ != State::Open) return;  // closing on purpose, or reported already
  state_ = State::Closed;
  pending_ = 0;
  boost::system::error_code ignored;
  ws_.next_layer().close(ignored);
  --worker_.counters().open;
  if (worker_.stopping()) return;
  const bool by_server = ec == websocket::error::closed;
  std::string reason = std::string(during) + ": " + ec.message();
  if (by_server) reason += " (close code " + std::to_string(ws_.reason().code) + " " + ws_.reason().reason.c_str() + ")";
  worker_.connection_lost(by_server, "client " + std::to_string(number_) + " " + reason);
}

}  // namespace chathost::bench
