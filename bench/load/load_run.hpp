// One chat-load run, start to end: plan, connect, join, send or hold,
// measure, close. Returns the figures; printing is load_report's job.
#pragma once

#include "latency_histogram.hpp"
#include "load_options.hpp"
#include "load_worker.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace chathost::bench {

struct ProcessFigures {
  std::string name;
  pid_t pid = 0;
  bool alive = true;           // false: it was gone at some sample
  double cpu_seconds = 0;      // over the measured window (idle: the hold)
  double cpu_percent = 0;      // of one core
  std::uint64_t rss_before_kib = 0;  // before the first connection
  std::uint64_t rss_kib = 0;         // at the end, connections still open
  std::uint64_t peak_kib = 0;
};

// One --report-every interval of a fan-out window.
struct IntervalFigures {
  double end_s = 0;  // since the window began
  double deliveries_per_s = 0;
  LatencyHistogram latency;
  std::uint64_t errors = 0;
  std::vector<std::pair<std::string, std::uint64_t>> rss_kib;  // per --pid, at the interval's end
};

struct RunResult {
  LoadOptions options;
  std::string tag;
  WorkerCounters counters;
  LatencyHistogram latency;
  // `latency` plus every expected delivery that never came, counted as
  // arriving when the drain ended: a lower bound of the true percentiles
  // of an overloaded run, where `latency` alone only describes the lucky.
  LatencyHistogram latency_with_missing;
  double connect_s = 0;  // time to open all connections
  double window_s = 0;   // measured window (idle: the hold)
  std::uint64_t expected_deliveries = 0;
  double sent_per_s = 0;
  double deliveries_per_s = 0;
  double received_in_window_per_s = 0;
  double delivery_ratio = 0;
  bool drained = false;  // every expected delivery arrived before --drain ran out
  std::vector<ProcessFigures> processes;
  ProcessFigures generator;  // chat-load itself
  std::vector<IntervalFigures> intervals;  // --report-every

  // Errors a clean run has none of: failed connections, connections lost,
  // error frames, messages the generator could not queue.
  std::uint64_t errors() const;
};

// Throws std::runtime_error when the run cannot start (unresolvable URL,
// not one connection).
RunResult run_load(const LoadOptions& options);

}  // namespace chathost::bench
