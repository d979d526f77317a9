#include "session_registry.hpp"

#include "ws_session.hpp"

#include <vector>

namespace chat::proxy {

SessionRegistry::SessionRegistry(const Fanout& fanout, ProxyMetrics metrics, std::shared_ptr<spdlog::logger> log)
    : fanout_(fanout), metrics_(metrics), log_(std::move(log)) {
  metrics_.upstream_available->set(0);
}

Frame SessionRegistry::status_frame(bool available) {
  ChatStream event;
  auto* status = event.mutable_service_status();
  status->set_available(available);
  if (!available) status->set_message("the chat service cannot be reached; reconnecting");
  return make_frame(event);
}

void SessionRegistry::add(const std::shared_ptr<WsSession>& session) {
  {
    std::lock_guard lock(mutex_);
    sessions_.emplace(session->id(), session);
    session->send(status_frame(announced_available_));
  }
  metrics_.connections->add(1);
}

void SessionRegistry::remove(std::uint64_t session_id) {
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session_id);
    changed_.notify_all();
  }
  metrics_.connections->add(-1);
}

bool SessionRegistry::announce(const std::function<bool()>& available_now) {
  std::lock_guard lock(mutex_);
  const bool now = available_now();
  if (now == announced_available_) return now;
  announced_available_ = now;
  metrics_.upstream_available->set(now ? 1 : 0);
  if (now) {
    log_->info("chat service available; telling {} clients", sessions_.size());
  } else {
    log_->warn("chat service unavailable; telling {} clients, reconnecting", sessions_.size());
  }
  const Frame frame = status_frame(now);
  for (const auto& [id, weak] : sessions_) {
    if (auto session = weak.lock()) fanout_.send(session, frame);
  }
  changed_.notify_all();
  return now;
}

bool SessionRegistry::announced_available() const {
  std::lock_guard lock(mutex_);
  return announced_available_;
}

bool SessionRegistry::wait_available(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return announced_available_; });
}

void SessionRegistry::close_all(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<WsSession>> open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (const auto& session : open) session->close(ws::CloseCode::going_away, "server stopping");
  open.clear();
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return sessions_.empty(); })) {
    log_->warn("{} WebSocket sessions still open after {} ms", sessions_.size(), timeout.count());
  }
}

}  // namespace chat::proxy
