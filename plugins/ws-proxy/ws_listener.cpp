#include "ws_listener.hpp"

#include "bridge.hpp"
#include "ws_session.hpp"

#include "limits/socket_refusal.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

namespace chat::proxy {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

WsListener::WsListener(IoShards& shards, Bridge& bridge, const tcp::endpoint& endpoint, bool reuse_port)
    : shards_(shards),
      bridge_(bridge),
      strand_(net::make_strand(shards.at(0))),
      acceptor_(strand_),
      retry_timer_(strand_),
      gate_(chat::limits::ConnectionGate::make(
          {.total = bridge.options().max_connections, .per_address = bridge.options().max_connections_per_address})) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  if (reuse_port) {
    // Several proxy hosts on one machine share the port; the kernel spreads connections.
    acceptor_.set_option(net::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>(true));
  }
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  local_ = acceptor_.local_endpoint();
}

void WsListener::run() {
  net::dispatch(strand_, beast::bind_front_handler(&WsListener::do_accept, shared_from_this()));
}

void WsListener::stop() {
  net::post(strand_, [self = shared_from_this()] {
    self->stopped_ = true;
    self->retry_timer_.cancel();
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void WsListener::do_accept() {
  if (stopped_) return;
  // Each connection lives on the next shard. One thread runs a shard, so
  // its handlers never run concurrently: no strand is needed.
  const std::size_t shard = shards_.next();
  acceptor_.async_accept(shards_.at(shard),
                         beast::bind_front_handler(&WsListener::on_accept, shared_from_this(), shard));
}

void WsListener::on_accept(std::size_t shard, beast::error_code ec, tcp::socket socket) {
  if (stopped_ || ec == net::error::operation_aborted) return;
  if (ec) {
    // Out of file descriptors, say: wait a little instead of spinning, and
    // say so once a second at most.
    if (auto line = backoff_.failed("accepting a connection failed: " + ec.message())) bridge_.log()->warn("{}", *line);
    retry_timer_.expires_after(chat::limits::AcceptBackoff::kRetry);
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (!wait_ec) self->do_accept();
    });
    return;
  }
  beast::error_code ignored;
  auto admission = gate_->admit(socket.remote_endpoint(ignored).address(), socket.native_handle());
  if (admission.verdict != chat::limits::ConnectionGate::Verdict::admitted) {
    bridge_.metrics().connections_refused->inc();
    chat::limits::turn_away(std::move(socket), std::move(admission), !bridge_.options().tls_context, backoff_,
                            *bridge_.log());
    return do_accept();
  }
  socket.set_option(tcp::no_delay(true), ignored);
  if (const auto bytes = bridge_.options().socket_send_buffer; bytes > 0) {
    socket.set_option(net::socket_base::send_buffer_size(static_cast<int>(bytes)), ignored);
  }
  std::make_shared<WsSession>(std::move(socket), shard, bridge_, bridge_.next_session_id(), std::move(admission.ticket))
      ->run();
  do_accept();
}

}  // namespace chat::proxy
