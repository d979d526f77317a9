// chat-ingest: how many messages per second grpc-chat stores and
// acknowledges. Each of --streams gRPC Chat streams joins a room of its own
// and keeps up to --window messages in flight (sent, not yet acknowledged);
// an ack comes only after the message's commit, so acks/s is the durable
// ingest rate. Reports acks/s, ack latency and, for --pid, each process's
// CPU and memory over the measured window. With --service-token-file the
// streams present the service token, as a bridge's do: without it each is
// one user at one WebSocket connection's rate, not a measure of ingest.
// Like a bridge's, the streams ask for batches (chat.Batch) and, when the
// service takes them, send the messages the window lets go at once as one
// gRPC message (--batches off: one message per frame, as a plain client).
#include "latency_histogram.hpp"
#include "process_stats.hpp"

#include "chat.grpc.pb.h"
#include "frame_batches.hpp"

#include <boost/program_options.hpp>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace chathost::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace po = boost::program_options;

struct IngestOptions {
  std::string target = "127.0.0.1:50051";
  std::string service_token;  // read from --service-token-file
  unsigned streams = 4;
  unsigned window = 512;
  unsigned size = 100;
  bool batches = true;
  double warmup_s = 2;
  double duration_s = 10;
  std::vector<WatchedProcess> watched;
  bool json = false;
};

// One Chat stream: a writer thread keeps `window` messages in flight, the
// reader thread counts their acks.
class IngestStream {
 public:
  IngestStream(const std::shared_ptr<grpc::Channel>& channel, const IngestOptions& options, unsigned index,
               const std::string& run_tag)
      : stub_(chat::ChatService::NewStub(channel)),
        window_(options.window),
        send_times_(static_cast<std::size_t>(options.window) * 2),
        room_("ingest-" + run_tag + "-" + std::to_string(index)),
        user_("ingest-" + std::to_string(index)),
        content_(options.size, 'x'),
        ask_batches_(options.batches) {
    context_.set_wait_for_ready(true);
    if (ask_batches_) chat::batches::ask(context_);
    if (!options.service_token.empty()) context_.AddMetadata("authorization", "Bearer " + options.service_token);
    stream_ = stub_->Chat(&context_);
  }

  // Joins (so the stream gets acks), then starts both threads.
  bool start() {
    chat::ChatStream join;
    join.mutable_join()->set_room_id(room_);
    join.mutable_join()->set_user_id(user_);
    if (!stream_->Write(join)) return false;
    chat::ChatStream event;
    bool joined = false;
    while (!joined && stream_->Read(&event)) {
      joined = event.has_joined();
      for (const auto& frame : event.batch().frames()) joined = joined || frame.has_joined();
    }
    if (!joined) return false;
    // The initial metadata came with the first event.
    batches_ = ask_batches_ && chat::batches::answered(context_);
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] { write_loop(); });
    return true;
  }

  // Stops sending, waits (bounded) for the acks still due, ends the stream.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      sending_ = false;
    }
    room_for_more_.notify_all();
    writer_.join();
    {
      std::unique_lock lock(mutex_);
      drained_.wait_for(lock, std::chrono::seconds(10), [this] { return in_flight_ == 0 || ended_; });
    }
    stream_->WritesDone();
    reader_.join();
    stream_->Finish();
  }

  bool batches() const { return batches_; }
  void set_measuring(bool on) { measuring_.store(on, std::memory_order_relaxed); }
  std::uint64_t acked() const { return acked_.load(std::memory_order_relaxed); }
  // Every ack of the run, warm-up and drain included: what the store must hold.
  std::uint64_t acked_total() const { return acked_total_.load(std::memory_order_relaxed); }
  std::uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }
  LatencyHistogram latency() const {
    std::lock_guard lock(mutex_);
    return latency_;
  }

 private:
  // Frames per Batch at most, as the bridges send them.
  static constexpr unsigned kMaxBatchFrames = 256;

  void write_loop() {
    chat::ChatStream single;
    auto* message = single.mutable_chat_message();
    message->set_room_id(room_);
    message->set_sender_id(user_);
    message->set_content(content_);
    chat::ChatStream batch;
    for (std::uint64_t n = 0;;) {
      unsigned count = 0;
      {
        std::unique_lock lock(mutex_);
        room_for_more_.wait(lock, [this] { return !sending_ || in_flight_ < window_; });
        if (!sending_ || ended_) return;
        // What the window lets go now; nothing waits to fill a batch.
        count = batches_ ? std::min(window_ - in_flight_, kMaxBatchFrames) : 1;
        in_flight_ += count;
        const auto now = Clock::now();
        for (unsigned i = 0; i < count; ++i) send_times_[(n + i) % send_times_.size()] = now;
      }
      if (count == 1) {
        message->set_id(std::to_string(n++));
        if (!stream_->Write(single)) return;
        continue;
      }
      auto* frames = batch.mutable_batch()->mutable_frames();
      frames->Clear();
      for (unsigned i = 0; i < count; ++i) {
        auto* frame = frames->Add();
        *frame = single;
        frame->mutable_chat_message()->set_id(std::to_string(n++));
      }
      if (!stream_->Write(batch)) return;
    }
  }

  // An ack or an error (a refusal) of the stream: frees its place in the window.
  void on_answer(const chat::ChatStream& event, Clock::time_point now) {
    if (!event.has_ack() && !event.has_error()) return;  // echoes and presence
    const std::string& id = event.has_ack() ? event.ack().id() : event.error().id();
    if (event.has_ack()) {
      acked_total_.fetch_add(1, std::memory_order_relaxed);
      const auto n = std::stoull(id);
      if (measuring_.load(std::memory_order_relaxed)) {
        latency_.record(
            std::chrono::duration_cast<std::chrono::nanoseconds>(now - send_times_[n % send_times_.size()]).count());
        acked_.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      refused_.fetch_add(1, std::memory_order_relaxed);
    }
    if (in_flight_ > 0) --in_flight_;
  }

  void read_loop() {
    chat::ChatStream event;
    while (stream_->Read(&event)) {
      const auto now = Clock::now();
      std::lock_guard lock(mutex_);
      if (event.has_batch()) {
        for (const auto& frame : event.batch().frames()) on_answer(frame, now);
      } else {
        on_answer(event, now);
      }
      room_for_more_.notify_one();
      if (in_flight_ == 0) drained_.notify_all();
    }
    std::lock_guard lock(mutex_);
    ended_ = true;
    room_for_more_.notify_all();
    drained_.notify_all();
  }

  std::unique_ptr<chat::ChatService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<chat::ChatStream, chat::ChatStream>> stream_;
  const unsigned window_;
  std::vector<Clock::time_point> send_times_;  // by message number, modulo twice the window
  const std::string room_;
  const std::string user_;
  const std::string content_;
  const bool ask_batches_;
  bool batches_ = false;  // the service took them: set before the threads start

  mutable std::mutex mutex_;
  std::condition_variable room_for_more_;
  std::condition_variable drained_;
  unsigned in_flight_ = 0;
  bool sending_ = true;
  bool ended_ = false;
  LatencyHistogram latency_;
  std::atomic<bool> measuring_{false};
  std::atomic<std::uint64_t> acked_{0};
  std::atomic<std::uint64_t> acked_total_{0};
  std::atomic<std::uint64_t> refused_{0};
  std::thread writer_;
  std::thread reader_;
};

IngestOptions parse(int argc, char** argv, bool& help) {
  IngestOptions o;
  std::vector<std::string> pids;
  po::options_description desc(
      "chat-ingest: durable ingest rate of grpc-chat (messages acknowledged after their commit, per second)\n"
      "Options");
  desc.add_options()("help,h", "this text")(
      "target", po::value(&o.target)->default_value(o.target), "grpc-chat address host:port")(
      "service-token-file", po::value<std::string>()->value_name("FILE"),
      "grpc-chat's service_token_file: the streams present it, as a bridge's do (without it each stream is one "
      "user, rate-limited)")(
      "streams", po::value(&o.streams)->default_value(o.streams), "gRPC Chat streams, each in a room of its own")(
      "window", po::value(&o.window)->default_value(o.window), "messages in flight (sent, not acknowledged) per stream")(
      "size", po::value(&o.size)->default_value(o.size), "content bytes per message")(
      "batches", po::value<std::string>()->default_value("on"),
      "on: ask for batches and send what the window lets go as one (chat.Batch), as a bridge does; off: one "
      "gRPC message per frame")(
      "warmup", po::value(&o.warmup_s)->default_value(o.warmup_s), "seconds of sending before measuring")(
      "duration", po::value(&o.duration_s)->default_value(o.duration_s), "seconds measured")(
      "pid", po::value(&pids)->composing(), "NAME=PID of a process whose CPU and RSS to report (repeatable)")(
      "json", po::bool_switch(&o.json), "also print one JSON line of the results on stdout (table on stderr)");
  po::variables_map vm;
  po::store(po::parse_command_line(argc, argv, desc), vm);
  po::notify(vm);
  help = vm.count("help") > 0;
  const auto batches = vm["batches"].as<std::string>();
  if (batches != "on" && batches != "off") throw po::error("--batches takes on or off");
  o.batches = batches == "on";
  if (vm.count("service-token-file")) {
    const auto path = vm["service-token-file"].as<std::string>();
    std::ifstream file(path);
    if (!std::getline(file, o.service_token) || o.service_token.empty()) {
      throw po::error("--service-token-file: cannot read a token from " + path);
    }
  }
  if (help) std::cout << desc;
  if (o.streams == 0 || o.window == 0 || o.size == 0 || o.duration_s <= 0 || o.warmup_s < 0) {
    throw po::error("--streams, --window, --size and --duration must be positive");
  }
  for (const auto& p : pids) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) throw po::error("--pid wants NAME=PID, got '" + p + "'");
    o.watched.push_back({p.substr(0, eq), static_cast<pid_t>(std::stol(p.substr(eq + 1)))});
  }
  return o;
}

int run(const IngestOptions& options) {
  const std::string run_tag = std::to_string(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::vector<std::unique_ptr<IngestStream>> streams;
  for (unsigned i = 0; i < options.streams; ++i) {
    // A channel per stream: each gets its own HTTP/2 connection, as separate
    // clients would.
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", static_cast<int>(i));  // keeps the channels from sharing a connection
    auto channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
    streams.push_back(std::make_unique<IngestStream>(channel, options, i, run_tag));
  }
  for (auto& s : streams) {
    if (!s->start()) {
      std::cerr << "chat-ingest: cannot join a room at " << options.target << "\n";
      return 1;
    }
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(options.warmup_s));

  std::vector<std::optional<ProcessSample>> before;
  for (const auto& w : options.watched) before.push_back(sample_process(w.pid));
  const auto t0 = Clock::now();
  for (auto& s : streams) s->set_measuring(true);
  std::this_thread::sleep_for(std::chrono::duration<double>(options.duration_s));
  for (auto& s : streams) s->set_measuring(false);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<std::optional<ProcessSample>> after;
  for (const auto& w : options.watched) after.push_back(sample_process(w.pid));
  for (auto& s : streams) s->stop();

  std::uint64_t acked = 0, acked_total = 0, refused = 0;
  LatencyHistogram latency;
  for (auto& s : streams) {
    acked += s->acked();
    acked_total += s->acked_total();
    refused += s->refused();
    latency.merge(s->latency());
  }
  const double rate = static_cast<double>(acked) / seconds;
  auto ms = [&](double q) { return static_cast<double>(latency.percentile(q)) / 1e6; };
  std::ostream& table = options.json ? std::cerr : std::cout;
  char line[256];
  const bool batched = streams.front()->batches();
  std::snprintf(line, sizeof line, "acked %llu in %.2f s: %.0f messages/s (%u streams, window %u, %u bytes, %s)\n",
                static_cast<unsigned long long>(acked), seconds, rate, options.streams, options.window, options.size,
                batched ? "batches" : "one frame a message");
  table << line;
  std::snprintf(line, sizeof line, "ack latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", ms(0.5),
                ms(0.9), ms(0.99), ms(0.999), static_cast<double>(latency.max()) / 1e6);
  table << line;
  if (refused > 0) table << "refused (error events): " << refused << "\n";
  std::string processes_json;
  for (std::size_t i = 0; i < options.watched.size(); ++i) {
    if (!before[i] || !after[i]) {
      table << options.watched[i].name << ": process not readable\n";
      continue;
    }
    const double cpu = (after[i]->cpu_seconds - before[i]->cpu_seconds) / seconds * 100;
    std::snprintf(line, sizeof line, "%s: CPU %.0f%% of one core, RSS %.1f MiB\n", options.watched[i].name.c_str(),
                  cpu, static_cast<double>(after[i]->rss_kib) / 1024);
    table << line;
    std::snprintf(line, sizeof line, "%s{\"name\":\"%s\",\"cpu_percent\":%.1f,\"rss_kib\":%llu}",
                  processes_json.empty() ? "" : ",", options.watched[i].name.c_str(), cpu,
                  static_cast<unsigned long long>(after[i]->rss_kib));
    processes_json += line;
  }
  if (options.json) {
    std::snprintf(line, sizeof line,
                  "{\"mode\":\"ingest\",\"batches\":%s,\"acked\":%llu,\"acked_total\":%llu,\"seconds\":%.3f,\"acked_per_s\":%.1f,"
                  "\"refused\":%llu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,",
                  batched ? "true" : "false", static_cast<unsigned long long>(acked),
                  static_cast<unsigned long long>(acked_total), seconds, rate,
                  static_cast<unsigned long long>(refused),
                  ms(0.5), ms(0.99), ms(0.999), static_cast<double>(latency.max()) / 1e6);
    std::cout << line << "\"processes\":[" << processes_json << "]}" << std::endl;
  }
  return acked > 0 ? 0 : 1;
}

}  // namespace
}  // namespace chathost::bench

int main(int argc, char** argv) {
  try {
    bool help = false;
    auto options = chathost::bench::parse(argc, argv, help);
    if (help) return 0;
    return chathost::bench::run(options);
  } catch (const boost::program_options::error& e) {
    std::cerr << "chat-ingest: " << e.what() << "\n(chat-ingest --help lists the options)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "chat-ingest: " << e.what() << '\n';
    return 1;
  }
}
