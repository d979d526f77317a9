#include "limits/connection_config.hpp"

namespace chat::limits {

std::vector<chathost::ConfigKey> connection_config_keys(std::int64_t total, std::int64_t per_address) {
  using chathost::ConfigKey;
  return {
      ConfigKey::integer("max_connections", total,
                         "open sockets, counted from accept (idle or not); more are answered 503 and closed")
          .range(1, 10000000),
      ConfigKey::integer("max_connections_per_address", per_address,
                         "open sockets from one client address; more are answered 429 and closed (0: no limit; "
                         "behind a reverse proxy every client has its address)")
          .range(0, 10000000),
  };
}

ConnectionGate::Limits load_connection_limits(const chathost::PluginConfig& config, spdlog::logger& log) {
  ConnectionGate::Limits limits;
  limits.total = static_cast<std::size_t>(config.get_int("max_connections"));
  limits.per_address = static_cast<std::size_t>(config.get_int("max_connections_per_address"));
  if (auto warning = connection_cap_warning(limits.total); !warning.empty()) log.warn("{}", warning);
  return limits;
}

}  // namespace chat::limits
