// The host's implementation of chathost::Metrics: lock-free updates (atomics),
// a mutex only to register a new series and to render.
#pragma once

#include "chathost/plugin.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace chathost {

class MetricsRegistry final : public Metrics {
 public:
  MetricsRegistry();
  ~MetricsRegistry() override;
  Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {}) override;
  Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {}) override;
  Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                       const Labels& labels = {}) override;
  std::string render_prometheus() const override;

 private:
  enum class Kind { Counter, Gauge, Histogram };
  struct Series;
  struct Family {
    Kind kind;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, std::unique_ptr<Series>> series;  // by rendered label set
  };

  Series& find_or_add(std::string_view name, std::string_view help, Kind kind, const Labels& labels,
                      const std::vector<double>& buckets);

  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace chathost
