// The config keys every bridge (ws-proxy, history-http) has beyond its own:
// which chat nodes it calls, how many connections it takes, bearer tokens,
// TLS on its port and on its channel to the chat service, and the service
// token it presents there. Each bridge says only what differs.
#pragma once

#include <chathost/plugin.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace chat::bridge {

struct BridgeKeys {
  std::string chat_node_failover;    // how calls move between chat nodes (chat_node_config_keys)
  std::int64_t max_connections = 0;  // connection_config_keys' defaults
  std::int64_t max_connections_per_address = 0;
  std::string tls_env_prefix;        // "WS": WS_TLS_CERT_FILE, ...
  std::string tls_serves;            // "the WebSocket port (wss://)"
  std::string service_token_use;     // how the service token is presented
};

// Appends the shared keys to a bridge's own, in the order its docs list them.
void append_bridge_config_keys(std::vector<chathost::ConfigKey>& keys, const BridgeKeys& bridge);

}  // namespace chat::bridge
