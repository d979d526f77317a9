// example-greeter: the smallest complete plugin, the one docs/plugins.md walks
// through. It listens on a TCP port and answers every connection with one
// greeting line, signed, then closes it.
//
//   $ nc 127.0.0.1 7070
//   Hello from chat-host 0.1.0 -- the chat-host team
#include <chathost/plugin.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class GreeterPlugin final : public chathost::Plugin {
 public:
  std::string_view name() const override { return "example-greeter"; }

  std::vector<chathost::ConfigKey> config_keys() const override {
    using chathost::ConfigKey;
    return {
        ConfigKey::string("host", "127.0.0.1", "address to listen on"),
        ConfigKey::integer("port", 7070, "TCP port to listen on (0: any free port)").range(0, 65535),
        ConfigKey::string("greeting", "Hello from chat-host", "first words of the line sent to every client")
            .env("GREETER_GREETING"),
        ConfigKey::string("signature", "the chat-host team", "who signs the line").env("GREETER_SIGNATURE"),
    };
  }

  // Read and check everything here; open nothing yet.
  void configure(chathost::PluginContext ctx) override {
    log_ = ctx.logger;
    boost::system::error_code ec;
    address_ = net::ip::make_address(ctx.config.get_string("host"), ec);
    if (ec) ctx.config.reject("host", "expected an IP address, got \"" + ctx.config.get_string("host") + "\"");
    port_ = static_cast<unsigned short>(ctx.config.get_int("port"));
    if (ctx.config.get_string("greeting").empty()) ctx.config.reject("greeting", "must not be empty");
    line_ = ctx.config.get_string("greeting") + " " + ctx.host_version + " -- " + ctx.config.get_string("signature") +
            "\n";
  }

  // Bind synchronously so a port in use fails the host's start, then serve
  // on a thread of our own.
  void start() override {
    const tcp::endpoint endpoint(address_, port_);
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      acceptor_.close();
      throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                               std::to_string(endpoint.port()) + ": " + ec.message());
    }
    do_accept();
    thread_ = std::thread([this] { io_.run(); });
    log_->info("greeting on {}", endpoints().front());
  }

  void stop() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    acceptor_.close();
  }

  std::vector<std::string> endpoints() const override {
    boost::system::error_code ec;
    auto bound = acceptor_.is_open() ? acceptor_.local_endpoint(ec) : tcp::endpoint(address_, port_);
    return {"tcp://" + bound.address().to_string() + ":" + std::to_string(bound.port())};
  }

 private:
  void do_accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;  // closed by stop()
      auto peer = std::make_shared<tcp::socket>(std::move(socket));
      net::async_write(*peer, net::buffer(line_), [peer](boost::system::error_code, std::size_t) {
        boost::system::error_code ignored;
        peer->shutdown(tcp::socket::shutdown_both, ignored);
      });
      do_accept();
    });
  }

  std::shared_ptr<spdlog::logger> log_;
  net::ip::address address_;
  unsigned short port_ = 0;
  std::string line_;
  net::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

}  // namespace

CHATHOST_PLUGIN(GreeterPlugin)
