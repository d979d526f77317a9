// The listening side of history-http: an acceptor and a pool of threads
// running one io_context; every connection gets its own strand and a
// session (http_session.hpp), over TLS (https://) when the server has a TLS
// context. Each socket takes a slot of the server's ConnectionGate at accept
// (limits.max_connections, .max_connections_per_address); one over a limit
// is answered 503 or 429 and closed without a session.
#pragma once

#include "http_session.hpp"
#include "http_types.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "limits/accept_backoff.hpp"
#include "limits/connection_gate.hpp"

#include <memory>
#include <thread>
#include <vector>

namespace chat::history_http {

class HttpServer {
 public:
  // Binds and listens at once: throws std::runtime_error naming the address
  // when it cannot. `tls`: serve https:// only with it; nullptr: http://.
  HttpServer(const tcp::endpoint& endpoint, std::size_t threads, const HttpApi& api, ConnectionLimits limits,
             std::shared_ptr<net::ssl::context> tls, std::shared_ptr<spdlog::logger> log);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address (port 0 resolved).
  tcp::endpoint local_endpoint() const { return bound_; }

  void start();
  // Stops accepting, drops every connection and joins the threads.
  void stop();

 private:
  void do_accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void run_thread();

  const std::size_t thread_count_;
  const HttpApi& api_;
  const ConnectionLimits limits_;
  const std::shared_ptr<net::ssl::context> tls_;
  std::shared_ptr<spdlog::logger> log_;
  net::io_context io_;
  tcp::acceptor acceptor_;
  net::steady_timer accept_retry_;
  std::shared_ptr<chat::limits::ConnectionGate> gate_;
  chat::limits::AcceptBackoff backoff_;
  tcp::endpoint bound_;
  std::vector<std::thread> threads_;
};

}  // namespace chat::history_http
