// The ws-proxy settings, read from its config table once at configure().
// Fields that a key fills (ConfigKey::into in ws_proxy_plugin.cpp) have
// their defaults there, with the key, and none here.
#pragma once

#include "auth/jwt.hpp"
#include "tls/tls_config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace chat::proxy {

struct ProxyOptions {
  // WebSocket side
  std::string listen_host;
  std::uint16_t listen_port = 0;
  bool reuse_port = false;
  std::size_t threads = 0;
  // Set when tls_cert_file and tls_key_file are: the port speaks wss://
  // only, every connection a TLS handshake (within handshake_timeout) before
  // its upgrade. Made by chat::tls::load_server_ssl_context (TLS 1.2+, no
  // compression, the configured chain and key); shared by every session,
  // which only reads it. nullptr: plain ws:// (the development default).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  // Exact Origin values accepted on the upgrade request; "*" accepts any.
  // A request without an Origin header (not a browser) is always accepted.
  std::vector<std::string> allowed_origins;
  std::size_t max_frame_bytes = 0;
  std::size_t max_connections = 0;             // sockets, counted from accept
  std::size_t max_connections_per_address = 0;  // from one client address (0: no limit)
  double max_messages_per_second = 0;  // per connection, sustained
  double message_burst = 0;            // per connection, at once
  std::size_t rate_limit_strikes = 0;  // refused frames in a row before closing 1008
  std::size_t send_queue_limit = 0;    // frames queued for one client before it is dropped
  std::size_t send_queue_bytes = 0;    // and bytes: a few large frames hold as much as many small ones
  std::size_t max_rooms_per_connection = 0;
  // SO_SNDBUF of each connection; 0 leaves the kernel's autotuning (up to
  // tcp_wmem's maximum, 4 MiB by default, before a slow client is noticed).
  std::size_t socket_send_buffer = 0;
  std::chrono::seconds handshake_timeout{};
  std::chrono::seconds idle_timeout{};
  // Set when auth_secret_file is: every upgrade must then carry a valid
  // token (chat::auth::authenticate_request on its Authorization header and
  // target), refused with its http_status and WWW-Authenticate before the
  // 101 otherwise; the token's subject is the connection's user, and the
  // connection is closed with 1008 "token expired" at its expires_at.
  // nullptr: no authentication (the development default).
  std::shared_ptr<const chat::auth::TokenVerifier> token_verifier;

  // Chat service side
  // The chat service's nodes, "host:port" each (chat_host, chat_port): the
  // upstream streams spread over them and move to another when one fails.
  std::vector<std::string> chat_nodes;
  // chat_tls_ca_file, chat_tls_server_name: TLS on the channel, or insecure.
  chat::tls::ChannelSecurity chat_tls;
  std::size_t upstream_streams = 0;
  std::size_t upstream_queue_limit = 0;  // frames waiting for the chat service, per stream
  std::chrono::milliseconds reconnect_min{};
  std::chrono::milliseconds reconnect_max{};
};

}  // namespace chat::proxy
