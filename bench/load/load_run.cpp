#include "load_run.hpp"

#include "chat_frame.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace chathost::bench {

namespace {

using Clock = std::chrono::steady_clock;
using Workers = std::vector<std::unique_ptr<LoadWorker>>;

// Runs `f(worker)` on every worker's thread at once and waits for all.
template <typename F>
auto on_all(Workers& workers, F f) {
  using Result = std::invoke_result_t<F&, LoadWorker&>;
  std::vector<std::future<Result>> futures;
  for (auto& worker : workers) {
    LoadWorker* w = worker.get();
    futures.push_back(w->post_call([w, f]() mutable { return f(*w); }));
  }
  if constexpr (std::is_void_v<Result>) {
    for (auto& future : futures) future.get();
  } else {
    std::vector<Result> results;
    for (auto& future : futures) results.push_back(future.get());
    return results;
  }
}

WorkerCounters gather(Workers& workers) {
  WorkerCounters total;
  for (const auto& counters : on_all(workers, [](LoadWorker& w) { return w.counters(); })) total.merge(counters);
  return total;
}

// Polls gather() until `done` holds or `deadline` passes; prints `progress`
// to stderr every 2 s. Returns the last counters.
WorkerCounters wait_for(Workers& workers, Clock::time_point deadline,
                        const std::function<bool(const WorkerCounters&)>& done,
                        const std::function<std::string(const WorkerCounters&)>& progress = {}) {
  auto next_report = Clock::now() + std::chrono::seconds(2);
  for (;;) {
    auto counters = gather(workers);
    if (done(counters) || Clock::now() >= deadline) return counters;
    if (progress && Clock::now() >= next_report) {
      std::cerr << "chat-load: " << progress(counters) << '\n';
      next_report += std::chrono::seconds(2);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Clock::duration seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

double self_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto to_s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return to_s(usage.ru_utime) + to_s(usage.ru_stime);
}

// The watched processes and chat-load itself, sampled at the same moments.
class ProcessWatch {
 public:
  explicit ProcessWatch(const std::vector<WatchedProcess>& watched) {
    for (const auto& w : watched) figures_.push_back(ProcessFigures{.name = w.name, .pid = w.pid});
    generator_.name = "chat-load";
    generator_.pid = ::getpid();
  }

  void before_connecting() {
    for (auto& f : figures_) {
      if (auto s = sample(f)) f.rss_before_kib = s->rss_kib;
    }
    if (auto s = sample_process(generator_.pid)) generator_.rss_before_kib = s->rss_kib;
  }

  void window_start() {
    cpu_start_.clear();
    for (auto& f : figures_) {
      auto s = sample(f);
      cpu_start_.push_back(s ? s->cpu_seconds : 0.0);
    }
    self_start_ = self_cpu_seconds();
    started_ = Clock::now();
  }

  void window_end() {
    const double wall = std::chrono::duration<double>(Clock::now() - started_).count();
    for (std::size_t i = 0; i < figures_.size(); ++i) {
      if (auto s = sample(figures_[i])) {
        figures_[i].cpu_seconds = s->cpu_seconds - cpu_start_[i];
        figures_[i].cpu_percent = wall > 0 ? 100.0 * figures_[i].cpu_seconds / wall : 0.0;
      }
    }
    generator_.cpu_seconds = self_cpu_seconds() - self_start_;
    generator_.cpu_percent = wall > 0 ? 100.0 * generator_.cpu_seconds / wall : 0.0;
  }

  void at_end() {
    for (auto& f : figures_) {
      if (auto s = sample(f)) {
        f.rss_kib = s->rss_kib;
        f.peak_kib = s->peak_kib;
      }
    }
    if (auto s = sample_process(generator_.pid)) {
      generator_.rss_kib = s->rss_kib;
      generator_.peak_kib = s->peak_kib;
    }
  }

  const std::vector<ProcessFigures>& figures() const { return figures_; }
  const ProcessFigures& generator() const { return generator_; }

 private:
  static std::optional<ProcessSample> sample(ProcessFigures& f) {
    auto s = sample_process(f.pid);
    if (!s) f.alive = false;
    return s;
  }

  std::vector<ProcessFigures> figures_;
  ProcessFigures generator_;
  std::vector<double> cpu_start_;
  double self_start_ = 0;
  Clock::time_point started_;
};

RunPlan make_plan(const LoadOptions& options) {
  RunPlan plan;
  plan.tag = make_run_tag();
  for (const auto& url : options.urls) plan.targets.push_back(resolve_target(url));
  for (const auto& address : options.source_addresses) plan.sources.push_back(boost::asio::ip::make_address(address));
  if (options.mode == Mode::Seed) {
    plan.room_names.push_back(options.seed_room);
  } else {
    for (std::uint32_t room = 0; room < options.rooms; ++room) plan.room_names.push_back(options.room_prefix + std::to_string(room));
  }
  plan.sender_prefix = options.sender_prefix;
  plan.content_size = options.size;
  return plan;
}

// Client i: room i mod R, URL i mod U, source address (i / U) mod A (so each
// URL gets every source address), worker i mod T; the first S clients send.
Workers make_workers(const LoadOptions& options, const RunPlan& plan) {
  const unsigned thread_count = std::min<unsigned>(options.threads, options.clients);
  const auto per_worker_connects =
      static_cast<std::uint32_t>((options.connect_concurrency + thread_count - 1) / thread_count);
  Workers workers;
  for (unsigned t = 0; t < thread_count; ++t) workers.push_back(std::make_unique<LoadWorker>(plan, per_worker_connects));
  const std::size_t url_count = plan.targets.size();
  for (std::uint32_t i = 0; i < options.clients; ++i) {
    std::optional<boost::asio::ip::address> source;
    if (!plan.sources.empty()) source = plan.sources[(i / url_count) % plan.sources.size()];
    workers[i % thread_count]->add_client(options.client_offset + i, i % plan.room_names.size(),
                                          plan.targets[i % url_count], source, i < options.senders);
  }
  return workers;
}

WorkerCounters connect_all(Workers& workers, const LoadOptions& options, RunResult& result) {
  const auto began = Clock::now();
  on_all(workers, [](LoadWorker& w) { w.begin_connect(); });
  const std::uint64_t total = options.clients;
  auto counters = wait_for(
      workers, began + seconds(options.connect_timeout_s),
      [total](const WorkerCounters& c) { return c.connected + c.connect_failures >= total; },
      [total](const WorkerCounters& c) {
        return "connecting " + std::to_string(c.connected) + "/" + std::to_string(total) +
               (c.connect_failures ? ", " + std::to_string(c.connect_failures) + " failed" : "");
      });
  if (counters.connected + counters.connect_failures < total) {
    on_all(workers, [](LoadWorker& w) { w.abort_connecting(); });
    counters = wait_for(workers, Clock::now() + std::chrono::seconds(5),
                        [](const WorkerCounters& c) { return c.connecting == 0; });
  }
  result.connect_s = std::chrono::duration<double>(Clock::now() - began).count();
  if (counters.connected == 0) {
    throw std::runtime_error("no connection opened" +
                             (counters.first_error.empty() ? std::string() : ": " + counters.first_error));
  }
  return counters;
}

WorkerCounters join_rooms(Workers& workers, const WorkerCounters& connected) {
  on_all(workers, [](LoadWorker& w) { w.begin_join(); });
  const auto deadline = Clock::now() + std::chrono::seconds(10) +
                        std::chrono::milliseconds(connected.connected);  // 1 ms per client on top
  auto counters = wait_for(
      workers, deadline, [](const WorkerCounters& c) { return c.joined >= c.open; },
      [](const WorkerCounters& c) { return "joining " + std::to_string(c.joined) + "/" + std::to_string(c.open); });
  if (counters.joined < counters.open) {
    std::cerr << "chat-load: " << counters.open - counters.joined
              << " clients did not get their join message back; they count as members anyway\n";
  }
  // A join message goes to the members that joined before it: how many that
  // is depends on the server's order. Wait until those deliveries stop
  // coming, so their backlog does not spill into warm-up and the window.
  auto last = counters.delivered_join;
  auto quiet_since = Clock::now();
  const auto settle_deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < settle_deadline && Clock::now() - quiet_since < std::chrono::milliseconds(500)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    counters = gather(workers);
    if (counters.delivered_join != last) {
      last = counters.delivered_join;
      quiet_since = Clock::now();
    }
  }
  return counters;
}

void close_all(Workers& workers) {
  on_all(workers, [](LoadWorker& w) { w.begin_close(); });
  wait_for(workers, Clock::now() + std::chrono::seconds(3), [](const WorkerCounters& c) { return c.open == 0; });
  for (auto& worker : workers) worker->stop();
}

std::uint64_t expected_deliveries(const WorkerCounters& c) {
  std::uint64_t expected = 0;
  for (std::size_t room = 0; room < c.sent_measured_per_room.size(); ++room) {
    expected += c.sent_measured_per_room[room] * c.members_per_room[room];
  }
  return expected;
}

std::uint64_t error_count(const WorkerCounters& c) {
  return c.connect_failures + c.server_closes + c.io_errors + c.error_frames + c.send_backlog_drops;
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

// --report-every: the window cut into intervals, each printed as it ends, so
// a long run shows whether latency, errors and memory drift.
void report_intervals(Workers& workers, const LoadOptions& options, Clock::time_point start, Clock::time_point end,
                      RunResult& result) {
  on_all(workers, [](LoadWorker& w) { return w.take_interval_latency(); });  // warm-up's stragglers
  auto previous = gather(workers);
  auto interval_start = start;
  while (interval_start < end) {
    const auto interval_end = std::min(end, interval_start + seconds(options.report_every_s));
    std::this_thread::sleep_until(interval_end);
    IntervalFigures figures;
    figures.end_s = std::chrono::duration<double>(interval_end - start).count();
    for (const auto& histogram : on_all(workers, [](LoadWorker& w) { return w.take_interval_latency(); })) {
      figures.latency.merge(histogram);
    }
    const auto counters = gather(workers);
    const double length = std::chrono::duration<double>(interval_end - interval_start).count();
    figures.deliveries_per_s =
        static_cast<double>(counters.delivered_measured - previous.delivered_measured) / length;
    figures.errors = error_count(counters) - error_count(previous);
    for (const auto& process : options.processes) {
      const auto sample = sample_process(process.pid);
      figures.rss_kib.emplace_back(process.name, sample ? sample->rss_kib : 0);
    }
    std::cerr << "chat-load: interval to " << figures.end_s << " s: " << figures.deliveries_per_s
              << " deliveries/s, latency p50/p99/max " << ms(figures.latency.percentile(0.5)) << " / "
              << ms(figures.latency.percentile(0.99)) << " / " << ms(figures.latency.max()) << " ms, errors "
              << figures.errors;
    for (const auto& [name, rss] : figures.rss_kib) std::cerr << ", " << name << " rss " << rss << " KiB";
    std::cerr << '\n';
    result.intervals.push_back(std::move(figures));
    previous = counters;
    interval_start = interval_end;
  }
}

void run_fanout(Workers& workers, const LoadOptions& options, RunResult& result, ProcessWatch& watch) {
  const auto connected = connect_all(workers, options, result);
  const auto joined = join_rooms(workers, connected);

  const auto start = Clock::now() + std::chrono::milliseconds(20);
  const auto measure_start = start + seconds(options.warmup_s);
  const auto measure_end = measure_start + seconds(options.duration_s);
  auto ns = [](Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  };
  on_all(workers, [&](LoadWorker& w) {
    w.begin_sending(SendSchedule{.start_ns = ns(start),
                                 .measure_start_ns = ns(measure_start),
                                 .measure_end_ns = ns(measure_end),
                                 .rate = options.rate * static_cast<double>(w.sender_count()) /
                                         static_cast<double>(options.senders)});
  });
  std::cerr << "chat-load: " << joined.joined << " clients joined; warm-up " << options.warmup_s
            << " s, then " << options.duration_s << " s measured at " << options.rate << " msg/s\n";
  std::this_thread::sleep_until(measure_start);
  watch.window_start();
  if (options.report_every_s > 0) {
    report_intervals(workers, options, measure_start, measure_end, result);
  } else {
    std::this_thread::sleep_until(measure_end);
  }
  watch.window_end();

  // Sending stops at the end of the window: from here on, sent and members are final.
  auto counters = gather(workers);
  const auto expected = expected_deliveries(counters);
  counters = wait_for(
      workers, Clock::now() + seconds(options.drain_s),
      [expected](const WorkerCounters& c) { return c.delivered_measured >= expected; });
  result.counters = counters;
  result.expected_deliveries = expected;
  result.drained = counters.delivered_measured >= expected;
  for (const auto& histogram : on_all(workers, [](LoadWorker& w) { return w.latency(); })) {
    result.latency.merge(histogram);
  }
  result.latency_with_missing = result.latency;
  if (counters.delivered_measured < expected) {
    const auto since_window = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - measure_end).count();
    result.latency_with_missing.record(since_window, expected - counters.delivered_measured);
  }
  result.window_s = options.duration_s;
  result.sent_per_s = static_cast<double>(counters.sent_measured) / options.duration_s;
  result.deliveries_per_s = static_cast<double>(counters.delivered_measured) / options.duration_s;
  result.received_in_window_per_s = static_cast<double>(counters.received_in_window) / options.duration_s;
  result.delivery_ratio =
      expected ? static_cast<double>(counters.delivered_measured) / static_cast<double>(expected) : 0.0;
  watch.at_end();
}

void run_idle(Workers& workers, const LoadOptions& options, RunResult& result, ProcessWatch& watch) {
  const auto connected = connect_all(workers, options, result);
  if (options.idle_join) join_rooms(workers, connected);
  on_all(workers, [&](LoadWorker& w) {
    w.begin_pinging(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(options.ping_interval_s)));
  });
  std::cerr << "chat-load: holding " << connected.connected << " connections for " << options.hold_s << " s\n";
  watch.window_start();
  const auto end = Clock::now() + seconds(options.hold_s);
  result.counters = wait_for(
      workers, end, [](const WorkerCounters&) { return false; },
      [](const WorkerCounters& c) { return std::to_string(c.open) + " connections open"; });
  watch.window_end();
  watch.at_end();
  result.window_s = options.hold_s;
}

void run_seed(Workers& workers, const LoadOptions& options, RunResult& result, ProcessWatch& watch) {
  connect_all(workers, options, result);
  watch.window_start();
  const auto began = Clock::now();
  on_all(workers, [&](LoadWorker& w) { w.begin_seed(options.seed_count); });
  const std::uint64_t count = options.seed_count;
  result.counters = wait_for(
      workers, began + std::chrono::seconds(30) + std::chrono::milliseconds(count),
      [count](const WorkerCounters& c) { return c.delivered_seed >= count || c.open == 0; },
      [count](const WorkerCounters& c) {
        return "seeded " + std::to_string(c.delivered_seed) + "/" + std::to_string(count);
      });
  watch.window_end();
  watch.at_end();
  result.window_s = std::chrono::duration<double>(Clock::now() - began).count();
  result.expected_deliveries = count;
  result.drained = result.counters.delivered_seed >= count;
  result.delivery_ratio = static_cast<double>(result.counters.delivered_seed) / static_cast<double>(count);
}

}  // namespace

std::uint64_t RunResult::errors() const { return error_count(counters); }

RunResult run_load(const LoadOptions& options) {
  RunResult result;
  result.options = options;
  const auto plan = make_plan(options);
  result.tag = plan.tag;
  if (options.mode != Mode::Seed) {
    OutgoingMessage probe;
    probe.tag = plan.tag;
    probe.client = options.client_offset + options.clients;
    probe.seq = 1u << 30;
    probe.send_ns = std::int64_t{1} << 50;
    if (payload_header_size(probe) > options.size) {
      std::cerr << "chat-load: --size " << options.size << " is below the " << payload_header_size(probe)
                << "-byte header each message carries: messages are that long instead\n";
    }
  }
  auto workers = make_workers(options, plan);
  ProcessWatch watch(options.processes);
  watch.before_connecting();
  for (auto& worker : workers) worker->start();
  try {
    switch (options.mode) {
      case Mode::FanOut: run_fanout(workers, options, result, watch); break;
      case Mode::Idle: run_idle(workers, options, result, watch); break;
      case Mode::Seed: run_seed(workers, options, result, watch); break;
    }
  } catch (...) {
    for (auto& worker : workers) worker->stop();
    throw;
  }
  close_all(workers);
  result.processes = watch.figures();
  result.generator = watch.generator();
  return result;
}

}  // namespace chathost::bench
