// The proxy's metrics, registered once with the host's registry.
#pragma once

#include <chathost/plugin.hpp>

namespace chat::proxy {

struct ProxyMetrics {
  chathost::Gauge* connections = nullptr;
  chathost::Counter* messages_in = nullptr;
  chathost::Counter* messages_out = nullptr;
  chathost::Counter* slow_clients_dropped = nullptr;
  chathost::Gauge* upstream_available = nullptr;
  chathost::Counter* connections_refused = nullptr;

  // Registers every metric; a host without metrics gets no-op ones.
  static ProxyMetrics registered_with(chathost::Metrics* metrics);
};

}  // namespace chat::proxy
