#include "http_server.hpp"

#include "limits/socket_refusal.hpp"
#include "net/listen_address.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <spdlog/logger.h>

#include <stdexcept>

namespace chat::history_http {
namespace {

std::string describe(const tcp::endpoint& endpoint) {
  return chat::net::host_port(endpoint.address().to_string(), endpoint.port());
}

}  // namespace

HttpServer::HttpServer(const tcp::endpoint& endpoint, std::size_t threads, const HttpApi& api,
                       ConnectionLimits limits, std::shared_ptr<net::ssl::context> tls,
                       std::shared_ptr<spdlog::logger> log)
    : thread_count_(threads),
      api_(api),
      limits_(limits),
      tls_(std::move(tls)),
      log_(std::move(log)),
      io_(static_cast<int>(threads)),
      acceptor_(net::make_strand(io_)),
      accept_retry_(acceptor_.get_executor()),
      gate_(chat::limits::ConnectionGate::make(
          {.total = limits.max_connections, .per_address = limits.max_connections_per_address})) {
  beast::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (!ec) bound_ = acceptor_.local_endpoint(ec);
  if (ec) throw std::runtime_error("cannot listen on " + describe(endpoint) + ": " + ec.message());
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  do_accept();
  threads_.reserve(thread_count_);
  for (std::size_t i = 0; i < thread_count_; ++i) threads_.emplace_back([this] { run_thread(); });
}

void HttpServer::stop() {
  io_.stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
  beast::error_code ec;
  acceptor_.close(ec);
  // Sessions still waiting in the io_context go with it, closing their sockets.
}

void HttpServer::run_thread() {
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      // A handler threw: that connection is lost, the server goes on.
      log_->error("unexpected error in a connection: {}", e.what());
    }
  }
}

void HttpServer::do_accept() {
  // Each connection gets a strand of its own.
  acceptor_.async_accept(net::make_strand(io_), beast::bind_front_handler(&HttpServer::on_accept, this));
}

void HttpServer::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    if (auto line = backoff_.failed("accepting a connection failed: " + ec.message())) log_->warn("{}", *line);
    accept_retry_.expires_after(chat::limits::AcceptBackoff::kRetry);
    accept_retry_.async_wait([this](beast::error_code wait_ec) {
      if (!wait_ec) do_accept();
    });
    return;
  }
  beast::error_code ignored;
  auto admission = gate_->admit(socket.remote_endpoint(ignored).address(), socket.native_handle());
  if (admission.verdict == chat::limits::ConnectionGate::Verdict::admitted) {
    serve_connection(std::move(socket), tls_, api_, limits_, log_, std::move(admission.ticket));
  } else {
    chat::limits::turn_away(std::move(socket), std::move(admission), !tls_, backoff_, *log_);
  }
  do_accept();
}

}  // namespace chat::history_http
