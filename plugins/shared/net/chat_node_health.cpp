#include "net/chat_node_health.hpp"

namespace chat::net {

// One node's check in one round.
struct ChatNodeHealth::Probe {
  std::shared_ptr<ChatServiceCheck> check;
  bool done = false;
  bool serving = false;
  std::string why;  // why not, for the log
};

ChatNodeHealth::ChatNodeHealth(std::vector<std::shared_ptr<grpc::Channel>> channels, std::vector<std::string> targets,
                               std::chrono::milliseconds period, std::shared_ptr<spdlog::logger> log, Changed changed)
    : nodes_(channels.size()), period_(period), log_(std::move(log)), changed_(std::move(changed)) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].channel = std::move(channels[i]);
    nodes_[i].target = i < targets.size() ? targets[i] : "node " + std::to_string(i);
  }
}

ChatNodeHealth::~ChatNodeHealth() { stop(); }

void ChatNodeHealth::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void ChatNodeHealth::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    for (auto& probe : probes_) {
      if (probe->check) probe->check->cancel();
    }
    wake_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

std::size_t ChatNodeHealth::pick(std::size_t from) const {
  for (std::size_t step = 0; step < nodes_.size(); ++step) {
    const std::size_t node = (from + step) % nodes_.size();
    if (serving(node)) return node;
  }
  return from % nodes_.size();
}

bool ChatNodeHealth::another_serves(std::size_t node) const {
  for (std::size_t other = 0; other < nodes_.size(); ++other) {
    if (other != node && serving(other)) return true;
  }
  return false;
}

void ChatNodeHealth::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto next_round = std::chrono::steady_clock::now() + period_;
    check_all(lock);
    if (stopping_) break;

    // What changed, told with the lock released.
    std::vector<std::pair<std::size_t, bool>> changes;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      Node& node = nodes_[i];
      const Probe& probe = *probes_[i];
      const bool was = node.serving.load(std::memory_order_relaxed);
      node.failures = probe.serving ? 0 : node.failures + 1;
      const bool now = probe.serving || (was && node.failures < kFailuresToDown);
      if (now == was) continue;
      node.serving.store(now, std::memory_order_relaxed);
      if (now) {
        log_->info("chat node {} serves again", node.target);
      } else {
        log_->warn("chat node {} does not serve ({}); streams move to the other nodes", node.target, probe.why);
      }
      changes.emplace_back(i, now);
    }
    probes_.clear();
    lock.unlock();
    for (const auto& [node, serving] : changes) changed_(node, serving);
    lock.lock();
    wake_.wait_until(lock, next_round, [this] { return stopping_; });
  }
  probes_.clear();
}

void ChatNodeHealth::probe_done(Probe& probe, bool serving, const std::string& why) {
  std::lock_guard lock(mutex_);
  probe.done = true;
  probe.serving = serving;
  probe.why = why;
  if (--probes_left_ == 0) wake_.notify_all();
}

void ChatNodeHealth::check_all(std::unique_lock<std::mutex>& lock) {
  probes_.clear();
  probes_left_ = nodes_.size();
  for (std::size_t i = 0; i < nodes_.size(); ++i) probes_.push_back(std::make_unique<Probe>());
  // Started without the lock: a callback may run at once, even on this
  // thread. A check started after stop() began is cancelled here.
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Probe* probe = probes_[i].get();
    lock.unlock();
    auto check = ChatServiceCheck::start(nodes_[i].channel, period_, [this, probe](bool serving, const std::string& why) {
      probe_done(*probe, serving, why);
    });
    lock.lock();
    probe->check = std::move(check);
    if (stopping_) probe->check->cancel();
  }
  // Every check ends by its deadline (or at once, cancelled by stop()).
  wake_.wait(lock, [this] { return probes_left_ == 0; });
}

}  // namespace chat::net
