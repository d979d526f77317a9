#include "net/chat_node_health.hpp"

#include "health.grpc.pb.h"

#include "tsan/annotations.hpp"

namespace chat::net {

// One node's check in one round.
struct ChatNodeHealth::Probe {
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
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
    for (auto& probe : probes_) probe->context.TryCancel();
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

void ChatNodeHealth::check_all(std::unique_lock<std::mutex>& lock) {
  probes_.clear();
  probes_left_ = nodes_.size();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto probe = std::make_unique<Probe>();
    probe->request.set_service("chat.ChatService");
    probe->context.set_deadline(std::chrono::system_clock::now() + period_);
    Probe* raw = probe.get();
    probes_.push_back(std::move(probe));
    grpc::health::v1::Health::Stub stub(nodes_[i].channel);
    tsan::handoff(raw);
    stub.async()->Check(&raw->context, &raw->request, &raw->response, [this, raw](const grpc::Status& status) {
      tsan::received(raw);
      std::lock_guard done_lock(mutex_);
      raw->done = true;
      raw->serving = status.ok() && raw->response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
      if (!status.ok()) {
        raw->why = status.error_message().empty() ? "status " + std::to_string(status.error_code())
                                                  : status.error_message();
      } else if (!raw->serving) {
        raw->why = "NOT_SERVING";
      }
      if (--probes_left_ == 0) wake_.notify_all();
    });
  }
  // Every check ends by its deadline (or at once, cancelled by stop()).
  wake_.wait(lock, [this] { return probes_left_ == 0; });
}

}  // namespace chat::net
