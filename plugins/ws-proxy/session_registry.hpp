// The proxy's open WebSocket sessions: registered from the upgrade to the
// close, told the chat service's status when they open and whenever it
// changes, and closed together when the proxy stops.
#pragma once

#include "fanout.hpp"
#include "proxy_metrics.hpp"

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace chat::proxy {

class WsSession;

class SessionRegistry {
 public:
  SessionRegistry(const Fanout& fanout, ProxyMetrics metrics, std::shared_ptr<spdlog::logger> log);

  // Registered, and told the status last announced: under one lock, so no
  // change slips between.
  void add(const std::shared_ptr<WsSession>& session);
  void remove(std::uint64_t session_id);

  // Reads `available_now` under the registry's lock (two changes racing
  // cannot announce in the wrong order) and, when it is news, tells every
  // session, through the fan-out: after what the links had queued for it.
  // Returns it.
  bool announce(const std::function<bool()>& available_now);
  // What the sessions were last told; waits out an announce() in progress.
  bool announced_available() const;
  // Waits up to `timeout` for the service to be announced available.
  bool wait_available(std::chrono::milliseconds timeout);

  // Closes every session with 1001 (going away); waits (bounded) until they are gone.
  void close_all(std::chrono::milliseconds timeout);

 private:
  static Frame status_frame(bool available);

  const Fanout& fanout_;
  ProxyMetrics metrics_;
  std::shared_ptr<spdlog::logger> log_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unordered_map<std::uint64_t, std::weak_ptr<WsSession>> sessions_;
  bool announced_available_ = false;
};

}  // namespace chat::proxy
