// Accepts TCP connections and starts a WsSession for each (Beast's async
// server example), on the next of the proxy's shards. Each socket takes a slot of the
// listener's ConnectionGate at accept (max_connections in all,
// max_connections_per_address from one address); one over a limit is
// answered 503 or 429 and closed, without a session.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/error.hpp>

#include "io_shards.hpp"
#include "limits/accept_backoff.hpp"
#include "limits/connection_gate.hpp"

#include <memory>

namespace chat::proxy {

class Bridge;

class WsListener : public std::enable_shared_from_this<WsListener> {
 public:
  // Binds and listens; throws boost::system::system_error on failure.
  WsListener(IoShards& shards, Bridge& bridge, const boost::asio::ip::tcp::endpoint& endpoint, bool reuse_port);

  void run();
  // Stops accepting (any thread).
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return local_; }

 private:
  void do_accept();
  // `shard`: where the socket was accepted onto (IoShards index).
  void on_accept(std::size_t shard, boost::beast::error_code ec, boost::asio::ip::tcp::socket socket);

  IoShards& shards_;
  Bridge& bridge_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<chat::limits::ConnectionGate> gate_;
  chat::limits::AcceptBackoff backoff_;
  boost::asio::ip::tcp::endpoint local_;
  bool stopped_ = false;
};

}  // namespace chat::proxy
