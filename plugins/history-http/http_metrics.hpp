// What history-http publishes through the host's metrics, served by its own
// /metrics together with every other plugin's:
//
//   chat_http_requests_total{route,status}        counter
//   chat_http_request_seconds{route}              histogram, request read -> response ready
//   chat_http_upstream_errors_total{call,code}    counter, failed calls to grpc-chat
//
// `route` is one of a fixed set (never the raw path, which clients choose).
#pragma once

#include <chathost/plugin.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <string_view>

namespace chat::history_http {

enum class Route { History, Senders, Healthz, Metrics, Config, Static, Other };
inline constexpr std::size_t kRouteCount = 7;

// "/history", "/history/senders", "/healthz", "/metrics", "/config.json", "static" (the page and
// its assets, and every path that is none of the others), "other" (requests
// refused before routing: unreadable, headers too large).
std::string_view route_label(Route route);

class HttpMetrics {
 public:
  explicit HttpMetrics(chathost::Metrics& registry);

  void request_done(Route route, unsigned status, std::chrono::steady_clock::duration elapsed);
  // `call`: "GetChatHistory", "GetRoomSenders" or "Health.Check"; `code`: the gRPC status code's name.
  void upstream_error(std::string_view call, std::string_view code);

 private:
  static constexpr unsigned kFirstStatus = 100;
  static constexpr unsigned kStatusCount = 500;  // 100..599

  chathost::Metrics& registry_;
  std::array<chathost::Histogram*, kRouteCount> latency_{};
  // The registry hands out one object per label set for as long as the host
  // lives: remember them so that counting stays lock-free after the first time.
  std::array<std::array<std::atomic<chathost::Counter*>, kStatusCount>, kRouteCount> requests_{};
};

}  // namespace chat::history_http
