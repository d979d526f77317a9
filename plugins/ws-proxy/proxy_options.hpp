// The ws-proxy settings, read from its config table once at configure().
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
  std::string listen_host = "0.0.0.0";
  std::uint16_t listen_port = 8080;
  bool reuse_port = false;
  std::size_t threads = 1;
  // Set when tls_cert_file and tls_key_file are: the port speaks wss://
  // only, every connection a TLS handshake (within handshake_timeout) before
  // its upgrade. Made by chat::tls::load_server_ssl_context (TLS 1.2+, no
  // compression, the configured chain and key); shared by every session,
  // which only reads it. nullptr: plain ws:// (the development default).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  // Exact Origin values accepted on the upgrade request; "*" accepts any.
  // A request without an Origin header (not a browser) is always accepted.
  std::vector<std::string> allowed_origins;
  std::size_t max_frame_bytes = 64 * 1024;
  std::size_t max_connections = 10000;             // sockets, counted from accept
  std::size_t max_connections_per_address = 256;   // from one client address (0: no limit)
  double max_messages_per_second = 50;  // per connection, sustained
  double message_burst = 100;           // per connection, at once
  std::size_t rate_limit_strikes = 50;  // refused frames in a row before closing 1008
  std::size_t send_queue_limit = 1024;  // frames queued for one client before it is dropped
  std::size_t max_rooms_per_connection = 100;
  // SO_SNDBUF of each connection; 0 leaves the kernel's autotuning (up to
  // tcp_wmem's maximum, 4 MiB by default, before a slow client is noticed).
  std::size_t socket_send_buffer = 0;
  std::chrono::seconds handshake_timeout{30};
  std::chrono::seconds idle_timeout{300};
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
  std::vector<std::string> chat_nodes{"127.0.0.1:50051"};
  // chat_tls_ca_file, chat_tls_server_name: TLS on the channel, or insecure.
  chat::tls::ChannelSecurity chat_tls;
  std::size_t upstream_streams = 2;
  std::size_t upstream_queue_limit = 65536;  // frames waiting for the chat service, per stream
  std::chrono::milliseconds reconnect_min{250};
  std::chrono::milliseconds reconnect_max{5000};
};

}  // namespace chat::proxy
