// ws-proxy: browsers (and any WebSocket client) chat through this plugin.
// JSON frames over WebSocket on one side, a few multiplexed Chat streams to
// grpc-chat on the other, in this host process or another one.
#include "bridge.hpp"
#include "proxy_options.hpp"
#include "io_shards.hpp"
#include "ws_listener.hpp"

#include "auth/auth_config.hpp"
#include "bridge/bridge_config.hpp"
#include "limits/connection_config.hpp"
#include "net/chat_nodes.hpp"
#include "net/listen_address.hpp"
#include "net/open_listener.hpp"
#include "service_auth/service_auth_config.hpp"
#include "tls/ssl_context.hpp"
#include "tls/tls_config.hpp"

#include <fmt/format.h>

#include <chathost/plugin.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <thread>

namespace {

namespace net = boost::asio;
using chathost::ConfigKey;
using namespace chat::proxy;

constexpr std::chrono::milliseconds kStartupWait{500};
constexpr std::chrono::milliseconds kSessionsCloseWait{2500};
constexpr std::chrono::milliseconds kStreamsEndWait{3000};

class WsProxyPlugin final : public chathost::Plugin {
 public:
  ~WsProxyPlugin() override { stop_parts(); }

  std::string_view name() const override { return "ws-proxy"; }

  std::vector<ConfigKey> config_keys() const override {
    auto keys = chat::net::listen_config_keys("WS", 8080,
                                              "address the WebSocket server listens on; beyond loopback, "
                                              "allowed_origins = [\"*\"] needs tokens (auth_secret_file) or [host] "
                                              "insecure");
    std::vector<ConfigKey> proxy_keys{
        ConfigKey::strings("allowed_origins", {"http://localhost:8081", "http://127.0.0.1:8081", "null"},
                           "Origin values a browser page may connect from, exactly; \"*\" allows any (development "
                           "only); \"null\" is a page opened as a file; clients sending no Origin are not browsers "
                           "and always allowed")
            .env("WS_ALLOWED_ORIGINS")
            .into(&ProxyOptions::allowed_origins),
        ConfigKey::integer("max_frame_bytes", 64 * 1024, "largest frame accepted; a larger one closes with 1009")
            .range(1024, 16 << 20)
            .into(&ProxyOptions::max_frame_bytes),
        ConfigKey::integer("max_messages_per_second", 50, "frames a connection may send per second, sustained")
            .range(1, 1000000)
            .into(&ProxyOptions::max_messages_per_second),
        ConfigKey::integer("message_burst", 100, "frames a connection may send at once before the rate applies")
            .range(1, 1000000)
            .into(&ProxyOptions::message_burst),
        ConfigKey::integer("rate_limit_strikes", 50,
                           "frames refused for rate in a row before the connection is closed with 1008")
            .range(1, 1000000)
            .into(&ProxyOptions::rate_limit_strikes),
        ConfigKey::integer("send_queue_limit", 1024,
                           "frames queued for a client before it is closed with 1008 as too slow (a replay it asked for "
                           "counts against send_queue_bytes only)")
            .range(8, 10000000)
            .into(&ProxyOptions::send_queue_limit),
        ConfigKey::integer("send_queue_bytes", 4 << 20,
                           "bytes of frames queued for a client before it is closed with 1008 as too slow")
            .range(64 << 10, INT64_C(1) << 30)
            .into(&ProxyOptions::send_queue_bytes),
        ConfigKey::integer("max_rooms_per_connection", 100, "rooms one connection may be in").range(1, 100000)
            .into(&ProxyOptions::max_rooms_per_connection),
        ConfigKey::integer("socket_send_buffer_bytes", 0,
                           "kernel send buffer of each connection (0: the system's, autotuned up to several MiB)")
            .range(0, 64 << 20)
            .into(&ProxyOptions::socket_send_buffer),
        ConfigKey::integer("idle_timeout_seconds", 300,
                           "a connection silent for half of this is pinged, silent for all of it closed")
            .range(2, 86400)
            .into(&ProxyOptions::idle_timeout),
        ConfigKey::integer("handshake_timeout_seconds", 30, "longest upgrade or close handshake").range(1, 600)
            .into(&ProxyOptions::handshake_timeout),
        ConfigKey::integer("threads", 0, "I/O threads (0: one per CPU core)").range(0, 1024)
            .into(&ProxyOptions::threads),
        ConfigKey::boolean("reuse_port", false, "SO_REUSEPORT: several proxy hosts on one machine share the port")
            .env("WS_REUSE_PORT")
            .into(&ProxyOptions::reuse_port),
        ConfigKey::integer("upstream_streams", 2, "Chat streams to the chat service, rooms spread over them")
            .range(1, 64)
            .into(&ProxyOptions::upstream_streams),
        ConfigKey::integer("upstream_queue_limit", 65536,
                           "frames waiting for one stream to the chat service before sends are refused")
            .range(16, 100000000)
            .into(&ProxyOptions::upstream_queue_limit),
        ConfigKey::integer("reconnect_min_ms", 250, "first delay before reconnecting to the chat service")
            .range(10, 600000)
            .into(&ProxyOptions::reconnect_min),
        ConfigKey::integer("reconnect_max_ms", 5000, "longest delay between reconnection attempts").range(10, 600000)
            .into(&ProxyOptions::reconnect_max),
    };
    for (auto& key : proxy_keys) keys.push_back(std::move(key));
    chat::bridge::append_bridge_config_keys(
        keys, {.chat_node_failover = "the streams spread over them and move when one fails",
               .max_connections = 10000,
               .max_connections_per_address = 256,
               .tls_env_prefix = "WS",
               .tls_serves = "the WebSocket port (wss://)",
               .service_token_use = "presented to the chat service, which then lets this bridge speak for many "
                                    "users on a stream; empty: this host's own secret (enough for a grpc-chat in "
                                    "the same host)"});
    return keys;
  }

  void configure(chathost::PluginContext ctx) override {
    ctx_ = std::move(ctx);
    const auto& config = ctx_.config;
    ProxyOptions& o = options_;
    config.apply(config_keys(), o);
    o.listen_host = config.get_string("host");
    o.listen_port = static_cast<std::uint16_t>(config.get_int("port"));
    boost::system::error_code ec;
    static_cast<void>(net::ip::make_address(o.listen_host, ec));
    if (ec) config.reject("host", "expected an IP address such as 0.0.0.0 or 127.0.0.1");
    if (o.allowed_origins.empty()) config.reject("allowed_origins", "must list at least one origin (or \"*\")");
    for (const auto& origin : o.allowed_origins) {
      if (origin.empty()) config.reject("allowed_origins", "an origin must not be empty");
      if (origin != "*" && origin != "null" && origin.find("://") == std::string::npos) {
        config.reject("allowed_origins", "'" + origin + "' is not an origin such as https://chat.example.org");
      }
      if (origin != "*" && origin.back() == '/') {
        config.reject("allowed_origins", "'" + origin + "': an origin has no path (drop the trailing /)");
      }
    }
    const auto connections = chat::limits::load_connection_limits(config, *ctx_.logger);
    o.max_connections = connections.total;
    o.max_connections_per_address = connections.per_address;
    if (o.threads == 0) o.threads = std::max(1U, std::thread::hardware_concurrency());
    auto nodes = chat::net::parse_chat_nodes(config.get_string("chat_host"),
                                             static_cast<std::uint16_t>(config.get_int("chat_port")));
    if (!nodes.error.empty()) config.reject("chat_host", nodes.error);
    o.chat_nodes = std::move(nodes.targets);
    if (o.reconnect_max < o.reconnect_min) config.reject("reconnect_max_ms", "must be at least reconnect_min_ms");
    o.token_verifier = chat::auth::load_token_verifier(config, *ctx_.logger);
    o.tls_context = chat::tls::load_server_ssl_context(config);
    o.chat_tls = chat::tls::load_channel_security(config);
    o.chat_tls.service_token = chat::service_auth::load_bridge_token(ctx_);
    chat::net::check_open_listener(ctx_, o.allowed_origins, o.token_verifier != nullptr, "chat as any user");
  }

  void start() override {
    auto& log = ctx_.logger;
    shards_ = std::make_unique<IoShards>(options_.threads);
    bridge_ = std::make_unique<Bridge>(options_, *shards_, log, ProxyMetrics::registered_with(ctx_.metrics.get()));
    const net::ip::tcp::endpoint endpoint(net::ip::make_address(options_.listen_host), options_.listen_port);
    try {
      listener_ = std::make_shared<WsListener>(*shards_, *bridge_, endpoint, options_.reuse_port);
    } catch (const boost::system::system_error& e) {
      bridge_.reset();
      shards_.reset();
      throw std::runtime_error("cannot listen on " + options_.listen_host + ":" + std::to_string(options_.listen_port) +
                               ": " + e.code().message());
    }
    bound_port_ = listener_->local_endpoint().port();
    bridge_->start();
    listener_->run();
    // `top -H` and /proc show the proxy's share of the process by this name.
    shards_->start("ws-proxy-io", [log](const std::exception& e) {
      log->error("unexpected error in a WebSocket handler: {}", e.what());
    });

    const std::string service = chat::net::describe_chat_nodes(options_.chat_nodes);
    if (!bridge_->wait_available(kStartupWait)) {
      log->warn("chat service at {} not reachable yet; serving WebSockets anyway and retrying", service);
    }
    log->info("serving WebSockets on {} ({} threads); chat service {} over {} streams ({}); origins: {}; tokens: {}",
              endpoints().front(), options_.threads, service, options_.upstream_streams,
              options_.chat_tls.describe(), fmt::join(options_.allowed_origins, ", "),
              options_.token_verifier ? "required" : "off");
  }

  void stop() override {
    if (!shards_) return;
    stop_parts();
    ctx_.logger->info("stopped");
  }

  std::vector<std::string> endpoints() const override {
    const std::uint16_t port = bound_port_ != 0 ? bound_port_ : options_.listen_port;
    return {(options_.tls_context ? "wss://" : "ws://") + chat::net::host_port(options_.listen_host, port)};
  }

 private:
  // Stops accepting, says goodbye to every client (1001), ends the streams
  // to the chat service, then stops the I/O threads.
  void stop_parts() {
    if (!shards_) return;
    if (listener_) listener_->stop();
    if (bridge_) {
      bridge_->close_sessions(kSessionsCloseWait);
      bridge_->stop_links(kStreamsEndWait);
    }
    shards_->stop();
    listener_.reset();
    bridge_.reset();
    shards_.reset();
  }

  chathost::PluginContext ctx_;
  ProxyOptions options_;
  std::uint16_t bound_port_ = 0;
  std::unique_ptr<IoShards> shards_;
  std::unique_ptr<Bridge> bridge_;
  std::shared_ptr<WsListener> listener_;
};

}  // namespace

CHATHOST_PLUGIN(WsProxyPlugin)
