// The config keys of a listener's ConnectionGate, the same in every plugin
// that listens for clients (ws-proxy, history-http), with its own defaults.
#pragma once

#include "limits/connection_gate.hpp"

#include <chathost/plugin.hpp>

#include <cstdint>
#include <vector>

namespace chat::limits {

// max_connections and max_connections_per_address, for config_keys().
std::vector<chathost::ConfigKey> connection_config_keys(std::int64_t total, std::int64_t per_address);

// For configure(): the two values; a max_connections this process cannot
// reach (each socket is a file) gets a warning in `log`.
ConnectionGate::Limits load_connection_limits(const chathost::PluginConfig& config, spdlog::logger& log);

}  // namespace chat::limits
