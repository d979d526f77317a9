#include "load_worker.hpp"

#include <algorithm>
#include <cmath>

namespace chathost::bench {

namespace net = boost::asio;

void WorkerCounters::merge(const WorkerCounters& o) {
  connected += o.connected;
  connect_failures += o.connect_failures;
  connecting += o.connecting;
  joined += o.joined;
  open += o.open;
  server_closes += o.server_closes;
  io_errors += o.io_errors;
  error_frames += o.error_frames;
  other_frames += o.other_frames;
  foreign_messages += o.foreign_messages;
  sent_join += o.sent_join;
  sent_warmup += o.sent_warmup;
  sent_measured += o.sent_measured;
  sent_seed += o.sent_seed;
  send_backlog_drops += o.send_backlog_drops;
  delivered_join += o.delivered_join;
  delivered_warmup += o.delivered_warmup;
  delivered_measured += o.delivered_measured;
  delivered_seed += o.delivered_seed;
  received_in_window += o.received_in_window;
  auto add = [](std::vector<std::uint64_t>& into, const std::vector<std::uint64_t>& from) {
    if (into.size() < from.size()) into.resize(from.size());
    for (std::size_t i = 0; i < from.size(); ++i) into[i] += from[i];
  };
  add(sent_measured_per_room, o.sent_measured_per_room);
  add(members_per_room, o.members_per_room);
  if (first_error.empty()) first_error = o.first_error;
}

LoadWorker::LoadWorker(const RunPlan& plan, std::uint32_t connect_limit)
    : plan_(plan),
      guard_(net::make_work_guard(context_)),
      send_timer_(context_),
      ping_timer_(context_),
      connect_limit_(std::max<std::uint32_t>(connect_limit, 1)) {
  counters_.sent_measured_per_room.assign(plan.room_names.size(), 0);
  counters_.members_per_room.assign(plan.room_names.size(), 0);
}

LoadWorker::~LoadWorker() {
  if (thread_.joinable()) {
    context_.stop();
    thread_.join();
  }
}

void LoadWorker::add_client(std::uint32_t number, std::uint32_t room, const Target& target,
                            std::optional<net::ip::address> source, bool sender) {
  clients_.push_back(std::make_unique<LoadClient>(*this, number, room, target, source));
  if (sender) senders_.push_back(clients_.back().get());
}

void LoadWorker::start() {
  thread_ = std::thread([this] { context_.run(); });
}

void LoadWorker::stop() {
  call([this] {
    stopping_ = true;
    send_timer_.cancel();
    ping_timer_.cancel();
    for (auto& client : clients_) client->abort();
    guard_.reset();
  });
  thread_.join();
}

void LoadWorker::begin_connect() { connect_more(); }

void LoadWorker::connect_more() {
  while (counters_.connecting < connect_limit_ && next_connect_ < clients_.size() && !stopping_) {
    ++counters_.connecting;
    clients_[next_connect_++]->connect();
  }
}

void LoadWorker::connect_done(bool ok, const std::string& error) {
  --counters_.connecting;
  if (ok) {
    ++counters_.connected;
    ++counters_.open;
  } else {
    ++counters_.connect_failures;
    note_error(error);
  }
  connect_more();
}

void LoadWorker::abort_connecting() {
  // Those not started yet will never be: count them as failed too.
  const auto never_started = clients_.size() - next_connect_;
  next_connect_ = clients_.size();
  counters_.connect_failures += never_started;
  if (never_started) note_error("connect: timed out before the attempt started");
  for (auto& client : clients_) {
    if (client->state() == LoadClient::State::Connecting) client->abort();
  }
}

void LoadWorker::begin_join() {
  for (auto& client : clients_) client->send(Phase::Join);
}

void LoadWorker::begin_sending(const SendSchedule& schedule) {
  schedule_ = schedule;
  scheduled_ = 0;
  sending_ = !senders_.empty() && schedule.rate > 0;
  if (!sending_) return;
  send_timer_.expires_at(net::steady_timer::time_point(std::chrono::nanoseconds(schedule.start_ns)));
  send_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) send_tick();
  });
}

// Every millisecond: send what the schedule says is due by now, round-robin
// over this worker's senders. After a stall the backlog goes out at once,
// so the rate holds on average.
void LoadWorker::send_tick() {
  const auto now = steady_now_ns();
  if (now >= schedule_.measure_end_ns || stopping_) {
    sending_ = false;
    return;
  }
  const double elapsed_s = static_cast<double>(now - schedule_.start_ns) / 1e9;
  const auto due = static_cast<std::uint64_t>(std::floor(elapsed_s * schedule_.rate)) + 1;
  while (scheduled_ < due) {
    ++scheduled_;
    senders_[next_sender_]->send(Phase::Warmup);  // Warmup: the clock decides
    next_sender_ = (next_sender_ + 1) % senders_.size();
  }
  send_timer_.expires_after(std::chrono::milliseconds(1));
  send_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) send_tick();
  });
}

std::optional<Phase> LoadWorker::phase_at(std::int64_t now_ns) const {
  if (now_ns < schedule_.measure_start_ns) return Phase::Warmup;
  if (now_ns < schedule_.measure_end_ns) return Phase::Measured;
  return std::nullopt;
}

void LoadWorker::message_sent(const LoadClient& client, Phase phase) {
  switch (phase) {
    case Phase::Join:
      ++counters_.sent_join;
      ++counters_.members_per_room[client.room()];
      break;
    case Phase::Warmup: ++counters_.sent_warmup; break;
    case Phase::Measured:
      ++counters_.sent_measured;
      ++counters_.sent_measured_per_room[client.room()];
      break;
    case Phase::Seed: ++counters_.sent_seed; break;
  }
}

void LoadWorker::frame_received(LoadClient& client, std::string_view frame) {
  auto received = read_chat_frame(frame, plan_.tag);
  switch (received.kind) {
    case FrameKind::Error:
      ++counters_.error_frames;
      note_error("error frame: " + std::string(frame.substr(0, 300)));
      return;
    case FrameKind::Other: ++counters_.other_frames; return;
    case FrameKind::ChatMessage: break;
  }
  if (!received.payload) {
    ++counters_.foreign_messages;
    return;
  }
  const auto& payload = *received.payload;
  const auto now = steady_now_ns();
  switch (payload.phase) {
    case Phase::Join:
      ++counters_.delivered_join;
      if (payload.client == client.number() && !client.joined()) {
        client.mark_joined();
        ++counters_.joined;
      }
      break;
    case Phase::Warmup: ++counters_.delivered_warmup; break;
    case Phase::Measured:
      ++counters_.delivered_measured;
      latency_.record(now - payload.send_ns);
      interval_latency_.record(now - payload.send_ns);
      break;
    case Phase::Seed: ++counters_.delivered_seed; break;
  }
  if (now >= schedule_.measure_start_ns && now < schedule_.measure_end_ns) ++counters_.received_in_window;
}

void LoadWorker::connection_lost(bool by_server, const std::string& error) {
  if (by_server) {
    ++counters_.server_closes;
  } else {
    ++counters_.io_errors;
  }
  note_error(error);
}

void LoadWorker::note_error(const std::string& error) {
  if (counters_.first_error.empty()) counters_.first_error = error;
}

void LoadWorker::begin_pinging(std::chrono::nanoseconds interval) {
  ping_interval_ = interval;
  ping_tick();
}

// Every 100 ms a slice of the clients, so each is pinged once per interval
// without all pings leaving at the same instant.
void LoadWorker::ping_tick() {
  if (stopping_ || clients_.empty()) return;
  constexpr auto kTick = std::chrono::milliseconds(100);
  const double ticks_per_interval =
      std::max(1.0, static_cast<double>(ping_interval_.count()) / static_cast<double>(std::chrono::nanoseconds(kTick).count()));
  const auto slice = static_cast<std::size_t>(std::ceil(static_cast<double>(clients_.size()) / ticks_per_interval));
  for (std::size_t i = 0; i < slice; ++i) {
    clients_[next_ping_]->ping();
    next_ping_ = (next_ping_ + 1) % clients_.size();
  }
  ping_timer_.expires_after(kTick);
  ping_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) ping_tick();
  });
}

void LoadWorker::begin_seed(std::uint32_t count) {
  if (!clients_.empty()) clients_.front()->send_burst(Phase::Seed, count);
}

void LoadWorker::begin_close() {
  stopping_ = true;
  send_timer_.cancel();
  ping_timer_.cancel();
  for (auto& client : clients_) client->close();
}

void LoadWorker::abort_all() {
  stopping_ = true;
  for (auto& client : clients_) {
    if (client->state() != LoadClient::State::Closed) client->abort();
  }
}

}  // namespace chathost::bench
