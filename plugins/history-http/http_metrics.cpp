#include "http_metrics.hpp"

#include <string>

namespace chat::history_http {
namespace {

constexpr std::string_view kRequestsName = "chat_http_requests_total";
constexpr std::string_view kRequestsHelp = "HTTP requests answered by history-http, by route and status code";

std::size_t index_of(Route route) { return static_cast<std::size_t>(route); }

}  // namespace

std::string_view route_label(Route route) {
  switch (route) {
    case Route::History: return "/history";
    case Route::Senders: return "/history/senders";
    case Route::Healthz: return "/healthz";
    case Route::Metrics: return "/metrics";
    case Route::Config: return "/config.json";
    case Route::Static: return "static";
    case Route::Other: return "other";
  }
  return "other";
}

HttpMetrics::HttpMetrics(chathost::Metrics& registry) : registry_(registry) {
  // Seconds from the request read to its response ready: the upstream call
  // for /history, /history/senders and /healthz, a file or a render for the others.
  const std::vector<double> buckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  for (std::size_t i = 0; i < kRouteCount; ++i) {
    latency_[i] = &registry_.histogram("chat_http_request_seconds", "Time history-http took to answer, by route",
                                       buckets, {{"route", std::string(route_label(static_cast<Route>(i)))}});
  }
  for (const auto* call : {"GetChatHistory", "GetRoomSenders", "Health.Check"}) {
    // Registered up front so that a scrape shows them at zero.
    registry_.counter("chat_http_upstream_errors_total", "Calls from history-http to the chat service that failed",
                      {{"call", call}, {"code", "UNAVAILABLE"}});
  }
}

void HttpMetrics::request_done(Route route, unsigned status, std::chrono::steady_clock::duration elapsed) {
  const auto r = index_of(route);
  latency_[r]->observe(std::chrono::duration<double>(elapsed).count());
  if (status < kFirstStatus || status >= kFirstStatus + kStatusCount) return;
  auto& slot = requests_[r][status - kFirstStatus];
  chathost::Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &registry_.counter(kRequestsName, kRequestsHelp,
                                 {{"route", std::string(route_label(route))}, {"status", std::to_string(status)}});
    slot.store(counter, std::memory_order_release);
  }
  counter->inc();
}

void HttpMetrics::upstream_error(std::string_view call, std::string_view code) {
  registry_
      .counter("chat_http_upstream_errors_total", "Calls from history-http to the chat service that failed",
               {{"call", std::string(call)}, {"code", std::string(code)}})
      .inc();
}

}  // namespace chat::history_http
