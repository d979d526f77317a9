#include "net/chat_node_health.hpp"

#include "health.grpc.pb.h"

#include <grpcpp/generic/generic_stub.h>

#include "tsan/annotations.hpp"

namespace chat::net {

namespace {

const std::string& check_method() {
  static const std::string name = "/" + std::string(grpc::health::v1::Health::service_full_name()) + "/Check";
  return name;
}

// The request, the same for every check.
grpc::ByteBuffer check_request() {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("chat.ChatService");
  grpc::ByteBuffer bytes;
  bool own_buffer = false;
  static_cast<void>(grpc::SerializationTraits<grpc::health::v1::HealthCheckRequest>::Serialize(request, &bytes,
                                                                                              &own_buffer));
  return bytes;
}

}  // namespace

// One node's check in one round. Bytes in and out through a generic stub,
// the answer parsed in the callback: after tsan::received, where
// ThreadSanitizer can order it (see tsan/annotations.hpp), not by gRPC on
// its thread just before.
struct ChatNodeHealth::Probe {
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
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

void ChatNodeHealth::probe_done(Probe& probe, const grpc::Status& status) {
  grpc::health::v1::HealthCheckResponse answer;
  const bool parsed =
      status.ok() &&
      grpc::SerializationTraits<grpc::health::v1::HealthCheckResponse>::Deserialize(&probe.response, &answer).ok();
  std::string why;
  if (!status.ok()) {
    why = status.error_message().empty() ? "status " + std::to_string(status.error_code()) : status.error_message();
  } else if (!parsed || answer.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    why = "NOT_SERVING";
  }
  std::lock_guard lock(mutex_);
  probe.done = true;
  probe.serving = why.empty();
  probe.why = std::move(why);
  if (--probes_left_ == 0) wake_.notify_all();
}

void ChatNodeHealth::check_all(std::unique_lock<std::mutex>& lock) {
  static const grpc::ByteBuffer request = check_request();
  probes_.clear();
  probes_left_ = nodes_.size();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    auto probe = std::make_unique<Probe>();
    probe->request = request;  // shares the bytes
    probe->context.set_deadline(std::chrono::system_clock::now() + period_);
    probes_.push_back(std::move(probe));
  }
  // Started without the lock: a callback may run at once, even on this
  // thread. stop() meanwhile cancels them (a context cancelled before its
  // call starts ends that call at once).
  lock.unlock();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    Probe* probe = probes_[i].get();
    grpc::GenericStub stub(nodes_[i].channel);
    tsan::handoff(probe);
    stub.UnaryCall(&probe->context, check_method(), grpc::StubOptions{}, &probe->request, &probe->response,
                   [this, probe](const grpc::Status& status) {
                     tsan::received(probe);
                     probe_done(*probe, status);
                   });
  }
  lock.lock();
  // Every check ends by its deadline (or at once, cancelled by stop()).
  wake_.wait(lock, [this] { return probes_left_ == 0; });
}

}  // namespace chat::net
