#include "metrics_registry.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace chathost {
namespace {

std::string escape_label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="1",b="2"} in the order given; "" without labels.
std::string render_labels(const Labels& labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
  std::string out;
  auto append = [&](std::string_view name, std::string_view value) {
    out += out.empty() ? "{" : ",";
    out += std::string(name) + "=\"" + escape_label(value) + "\"";
  };
  for (const auto& [name, value] : labels) append(name, value);
  if (!extra_name.empty()) append(extra_name, extra_value);
  if (!out.empty()) out += "}";
  return out;
}

// The shortest text that reads back as the same double: le="0.005", not
// le="0.0050000000000000001", so queries can name a bucket as configured.
std::string number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (std::isnan(value)) return "NaN";
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

void add_double(std::atomic<double>& target, double delta) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + delta, std::memory_order_relaxed)) {
  }
}

bool valid_name(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name.front()))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  });
}

}  // namespace

// One labelled series; implements whichever interface its family's kind needs.
struct MetricsRegistry::Series final : Counter, Gauge, Histogram {
  Labels labels;
  std::atomic<std::uint64_t> count{0};  // counter value, or histogram observations
  std::atomic<double> value{0};         // gauge value, or histogram sum
  std::vector<double> bounds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> bucket_counts;

  void inc(std::uint64_t n) override { count.fetch_add(n, std::memory_order_relaxed); }
  void set(double v) override { value.store(v, std::memory_order_relaxed); }
  void add(double delta) override { add_double(value, delta); }
  void observe(double v) override {
    auto bucket = std::lower_bound(bounds.begin(), bounds.end(), v) - bounds.begin();
    if (static_cast<std::size_t>(bucket) < bounds.size()) {
      bucket_counts[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    }
    count.fetch_add(1, std::memory_order_relaxed);
    add_double(value, v);
  }
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Series& MetricsRegistry::find_or_add(std::string_view name, std::string_view help, Kind kind,
                                                     const Labels& labels, const std::vector<double>& buckets) {
  if (!valid_name(name)) throw std::invalid_argument("invalid metric name '" + std::string(name) + "'");
  std::lock_guard lock(mutex_);
  auto family = families_.find(name);
  if (family == families_.end()) {
    family = families_.emplace(std::string(name), Family{kind, std::string(help), buckets, {}}).first;
  } else if (family->second.kind != kind) {
    throw std::invalid_argument("metric '" + std::string(name) + "' is already registered as another kind");
  }
  const std::string key = render_labels(labels);
  auto& slot = family->second.series[key];
  if (!slot) {
    slot = std::make_unique<Series>();
    slot->labels = labels;
    slot->bounds = family->second.buckets;
    slot->bucket_counts = std::make_unique<std::atomic<std::uint64_t>[]>(slot->bounds.size());
  }
  return *slot;
}

Counter& MetricsRegistry::counter(std::string_view name, std::string_view help, const Labels& labels) {
  return find_or_add(name, help, Kind::Counter, labels, {});
}

Gauge& MetricsRegistry::gauge(std::string_view name, std::string_view help, const Labels& labels) {
  return find_or_add(name, help, Kind::Gauge, labels, {});
}

Histogram& MetricsRegistry::histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                                      const Labels& labels) {
  if (!std::is_sorted(buckets.begin(), buckets.end())) {
    throw std::invalid_argument("histogram '" + std::string(name) + "': buckets must ascend");
  }
  return find_or_add(name, help, Kind::Histogram, labels, buckets);
}

std::string MetricsRegistry::render_prometheus() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.kind == Kind::Counter ? "counter" : family.kind == Kind::Gauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + family.help + "\n# TYPE " + name + " " + type + "\n";
    for (const auto& [key, series] : family.series) {
      switch (family.kind) {
        case Kind::Counter:
          out += name + key + " " + std::to_string(series->count.load()) + "\n";
          break;
        case Kind::Gauge:
          out += name + key + " " + number(series->value.load()) + "\n";
          break;
        case Kind::Histogram: {
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i < series->bounds.size(); ++i) {
            cumulative += series->bucket_counts[i].load();
            out += name + "_bucket" + render_labels(series->labels, "le", number(series->bounds[i])) + " " +
                   std::to_string(cumulative) + "\n";
          }
          const auto total = series->count.load();
          out += name + "_bucket" + render_labels(series->labels, "le", "+Inf") + " " + std::to_string(total) + "\n";
          out += name + "_sum" + key + " " + number(series->value.load()) + "\n";
          out += name + "_count" + key + " " + std::to_string(total) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace chathost
