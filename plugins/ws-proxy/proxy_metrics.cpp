#include "proxy_metrics.hpp"

namespace chat::proxy {
namespace {

class NoCounter final : public chathost::Counter {
 public:
  void inc(std::uint64_t) override {}
};
class NoGauge final : public chathost::Gauge {
 public:
  void set(double) override {}
  void add(double) override {}
};

}  // namespace

ProxyMetrics ProxyMetrics::registered_with(chathost::Metrics* metrics) {
  if (metrics == nullptr) {
    static NoCounter counter;
    static NoGauge gauge;
    return {&gauge, &counter, &counter, &counter, &gauge, &counter};
  }
  return {
      &metrics->gauge("chat_ws_connections", "open WebSocket connections"),
      &metrics->counter("chat_ws_messages_in_total", "frames received from WebSocket clients"),
      &metrics->counter("chat_ws_messages_out_total", "frames sent to WebSocket clients"),
      &metrics->counter("chat_ws_slow_clients_dropped_total",
                        "WebSocket clients closed because they did not read fast enough"),
      &metrics->gauge("chat_ws_upstream_available", "1 when every stream to the chat service is up, else 0"),
      &metrics->counter("chat_ws_connections_refused_total",
                        "sockets refused at accept: over max_connections or max_connections_per_address"),
  };
}

}  // namespace chat::proxy
