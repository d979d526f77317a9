// The config keys that turn TLS on, the same in every plugin, and what they
// load. Off unless files are named: the development config leaves them empty;
// docs/deployment.md, "TLS", has the setup of each hop.
//
//   listening side (grpc-chat, ws-proxy, history-http):
//     tls_cert_file, tls_key_file        env <PREFIX>_TLS_CERT_FILE, <PREFIX>_TLS_KEY_FILE
//   grpc-chat only, asking the bridges for client certificates:
//     tls_client_ca_file                 env GRPC_TLS_CLIENT_CA_FILE
//   the bridges' channel to grpc-chat (ws-proxy, history-http):
//     chat_tls_ca_file                   env GRPC_TLS_CA_FILE
//     chat_tls_server_name               env GRPC_TLS_SERVER_NAME
//     chat_tls_cert_file, chat_tls_key_file  env GRPC_TLS_CLIENT_CERT_FILE,
//                                        GRPC_TLS_CLIENT_KEY_FILE (mutual TLS)
//     chat_keepalive_time_ms, chat_keepalive_timeout_ms (no TLS of their
//     own: the channel's HTTP/2 pings, declared with the channel's keys)
//
// Every file is read and checked in configure(): a missing, unreadable or
// wrong file is rejected through config.reject, naming the file and the key,
// and the host exits before it opens any port.
#pragma once

#include <chathost/plugin.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::tls {

// tls_cert_file and tls_key_file, for a plugin's config_keys(). `env_prefix`
// names the variables ("GRPC" gives GRPC_TLS_CERT_FILE); `serves` says what
// TLS protects in --help-config, e.g. "the WebSocket server (wss://)".
std::vector<chathost::ConfigKey> server_config_keys(std::string_view env_prefix, std::string_view serves);

// The server's certificate chain and private key, read and checked.
struct ServerCertificate {
  std::string cert_file;
  std::string key_file;
  std::string chain_pem;
  std::string key_pem;
  // Set (grpc-chat's tls_client_ca_file): clients are asked for a
  // certificate, and one that this CA did not sign fails the handshake.
  std::string client_ca_file;
  std::string client_ca_pem;
};

// For configure(): nullopt when neither key is set (TLS off). Both must be
// set, name readable PEM files, and the key must be the certificate's.
std::optional<ServerCertificate> load_server_certificate(const chathost::PluginConfig& config);

// tls_client_ca_file, for grpc-chat's config_keys().
chathost::ConfigKey client_ca_config_key();
// For configure(), after load_server_certificate: reads tls_client_ca_file
// into `certificate` (which it needs: client certificates come with TLS).
void load_client_ca(const chathost::PluginConfig& config, std::optional<ServerCertificate>& certificate);

// chat_tls_ca_file, chat_tls_server_name, the client certificate's keys and
// the channel's keepalive keys, for a bridge's config_keys().
std::vector<chathost::ConfigKey> channel_config_keys();

// How a bridge reaches the chat service.
struct ChannelSecurity {
  // Empty: an insecure channel (the development default).
  std::string ca_file;
  std::string ca_pem;
  // Set: the name checked in grpc-chat's certificate instead of the host
  // the channel connects to.
  std::string server_name;
  // Set: the certificate the bridge shows grpc-chat (mutual TLS).
  std::string client_cert_file;
  std::string client_chain_pem;
  std::string client_key_pem;
  // What the bridge presents on every call (service_auth/): the configured
  // service token, or the host's own secret. Never logged.
  std::string service_token;
  // HTTP/2 pings on the channel's connections, with or without a call: a
  // chat service that stops answering (a frozen host, a dead link without
  // a reset) is given up after keepalive_time + keepalive_timeout, and its
  // streams end with UNAVAILABLE instead of waiting forever.
  std::chrono::milliseconds keepalive_time{30000};
  std::chrono::milliseconds keepalive_timeout{20000};

  bool tls() const { return !ca_pem.empty(); }
  // For log lines: "TLS, trusting <file>" or "insecure".
  std::string describe() const;
};

// For a bridge's configure(): reads and checks chat_tls_ca_file, if set, and
// reads the keepalive keys.
ChannelSecurity load_channel_security(const chathost::PluginConfig& config);

}  // namespace chat::tls
