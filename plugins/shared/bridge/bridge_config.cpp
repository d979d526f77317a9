#include "bridge/bridge_config.hpp"

#include "auth/auth_config.hpp"
#include "limits/connection_config.hpp"
#include "net/chat_nodes.hpp"
#include "service_auth/service_auth_config.hpp"
#include "tls/tls_config.hpp"

namespace chat::bridge {

void append_bridge_config_keys(std::vector<chathost::ConfigKey>& keys, const BridgeKeys& bridge) {
  const auto append = [&keys](std::vector<chathost::ConfigKey> more) {
    for (auto& key : more) keys.push_back(std::move(key));
  };
  append(chat::net::chat_node_config_keys(bridge.chat_node_failover));
  append(chat::limits::connection_config_keys(bridge.max_connections, bridge.max_connections_per_address));
  append(chat::auth::config_keys());
  append(chat::tls::server_config_keys(bridge.tls_env_prefix, bridge.tls_serves));
  append(chat::tls::channel_config_keys());
  keys.push_back(chat::service_auth::service_token_file_key(bridge.service_token_use));
}

}  // namespace chat::bridge
