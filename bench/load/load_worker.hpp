// LoadWorker: one thread, one io_context, the clients that live on it, and
// counters only that thread writes. The run's main thread talks to a worker
// only through call(), which runs a function on the worker's thread and
// waits for it: that is both the synchronisation and the snapshot.
#pragma once

#include "latency_histogram.hpp"
#include "load_client.hpp"
#include "run_plan.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace chathost::bench {

struct WorkerCounters {
  std::uint64_t connected = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t connecting = 0;  // attempts in flight
  std::uint64_t joined = 0;      // clients whose join message came back to them
  std::uint64_t open = 0;        // open right now
  std::uint64_t server_closes = 0;  // closed by the server while we held them
  std::uint64_t io_errors = 0;      // read/write/ping failures while open
  std::uint64_t error_frames = 0;   // frames whose first key is "error"
  std::uint64_t other_frames = 0;   // ack, presence, ...: not counted
  std::uint64_t foreign_messages = 0;  // chat messages not of this run
  std::uint64_t sent_join = 0;
  std::uint64_t sent_warmup = 0;
  std::uint64_t sent_measured = 0;
  std::uint64_t sent_seed = 0;
  std::uint64_t send_backlog_drops = 0;  // a client's queue was full: not sent
  std::uint64_t delivered_join = 0;
  std::uint64_t delivered_warmup = 0;
  std::uint64_t delivered_measured = 0;
  std::uint64_t delivered_seed = 0;
  std::uint64_t received_in_window = 0;  // our messages of any phase received inside the window
  std::vector<std::uint64_t> sent_measured_per_room;
  std::vector<std::uint64_t> members_per_room;  // clients that sent their join message
  std::string first_error;

  void merge(const WorkerCounters& other);
};

// When to send, for one worker: its share of the rate, and the window.
struct SendSchedule {
  std::int64_t start_ns = 0;
  std::int64_t measure_start_ns = 0;
  std::int64_t measure_end_ns = 0;
  double rate = 0;  // messages/s of this worker's senders together
};

class LoadWorker {
 public:
  LoadWorker(const RunPlan& plan, std::uint32_t connect_limit);
  ~LoadWorker();
  LoadWorker(const LoadWorker&) = delete;
  LoadWorker& operator=(const LoadWorker&) = delete;

  // Before start() only.
  void add_client(std::uint32_t number, std::uint32_t room, const Target& target,
                  std::optional<boost::asio::ip::address> source, bool sender);
  std::size_t sender_count() const { return senders_.size(); }

  void start();
  // Lets the thread finish once everything is closed, then joins it.
  void stop();

  // Runs `f` on the worker's thread and returns its result.
  template <typename F>
  auto call(F f) -> std::invoke_result_t<F&> {
    return post_call(std::move(f)).get();
  }
  template <typename F>
  auto post_call(F f) -> std::future<std::invoke_result_t<F&>> {
    std::packaged_task<std::invoke_result_t<F&>()> task(std::move(f));
    auto future = task.get_future();
    boost::asio::post(context_, [task = std::move(task)]() mutable { task(); });
    return future;
  }

  // On the worker's thread (through call()):
  void begin_connect();
  void abort_connecting();
  void begin_join();
  void begin_sending(const SendSchedule& schedule);
  void begin_pinging(std::chrono::nanoseconds interval);
  void begin_seed(std::uint32_t count);
  void begin_close();
  void abort_all();
  const WorkerCounters& counters() const { return counters_; }
  const LatencyHistogram& latency() const { return latency_; }
  // The measured deliveries' latencies since the last call (--report-every).
  LatencyHistogram take_interval_latency() { return std::exchange(interval_latency_, {}); }

  // For LoadClient:
  boost::asio::io_context& context() { return context_; }
  const RunPlan& plan() const { return plan_; }
  bool stopping() const { return stopping_; }
  WorkerCounters& counters() { return counters_; }
  // The phase of a message built now, or nullopt once the window is over.
  std::optional<Phase> phase_at(std::int64_t now_ns) const;
  void message_sent(const LoadClient& client, Phase phase);
  void connect_done(bool ok, const std::string& error);
  void connection_lost(bool by_server, const std::string& error);
  void frame_received(LoadClient& client, std::string_view frame);
  void note_error(const std::string& error);

 private:
  void connect_more();
  void send_tick();
  void ping_tick();

  const RunPlan& plan_;
  boost::asio::io_context context_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  // After context_: destroyed before it, since their sockets belong to it.
  std::vector<std::unique_ptr<LoadClient>> clients_;
  std::vector<LoadClient*> senders_;
  boost::asio::steady_timer send_timer_;
  boost::asio::steady_timer ping_timer_;
  WorkerCounters counters_;
  LatencyHistogram latency_;
  LatencyHistogram interval_latency_;
  SendSchedule schedule_;
  std::uint64_t scheduled_ = 0;  // messages due so far, by the schedule
  std::size_t next_sender_ = 0;
  std::size_t next_connect_ = 0;
  std::size_t next_ping_ = 0;
  std::chrono::nanoseconds ping_interval_{0};
  std::uint32_t connect_limit_;
  bool sending_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace chathost::bench
