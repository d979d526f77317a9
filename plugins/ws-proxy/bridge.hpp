// The proxy's switchboard between WebSocket sessions and the chat service,
// put together from its parts: the upstream links (one gRPC stream each) and
// the chat nodes' health, the fan-out to the I/O shards, the registry of
// sessions (session_registry.hpp: admission, status news, closing) and the
// router of what clients send (frame_router.hpp). It tells every client
// when the chat service becomes unavailable or is back.
#pragma once

#include "net/chat_node_health.hpp"

#include "fanout.hpp"
#include "frame_router.hpp"
#include "handshake.hpp"
#include "io_shards.hpp"
#include "proxy_metrics.hpp"
#include "proxy_options.hpp"
#include "session_registry.hpp"
#include "upstream_link.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

namespace chat::proxy {

class WsSession;

class Bridge {
 public:
  // The sessions live on `shards`; the links' timers run on shard 0.
  Bridge(const ProxyOptions& options, IoShards& shards, std::shared_ptr<spdlog::logger> log, ProxyMetrics metrics);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  // Opens the upstream streams; returns at once (the service may be down).
  void start();
  // Whether every upstream stream is up.
  bool available() const;
  // Waits up to `timeout` for the service to answer; false if it did not.
  bool wait_available(std::chrono::milliseconds timeout);

  // --- sessions
  std::uint64_t next_session_id() { return next_session_id_++; }
  // After the upgrade: registered, told the service status, ?user/?room applied.
  void opened(const std::shared_ptr<WsSession>& session, const UpgradeTarget& target);
  // The connection ended: it leaves its rooms. On the session's thread.
  void closed(WsSession& session);
  // One text frame from a client. On the session's thread.
  void on_text(const std::shared_ptr<WsSession>& session, std::string_view text);

  const ProxyOptions& options() const { return options_; }
  const ProxyMetrics& metrics() const { return metrics_; }
  const std::shared_ptr<spdlog::logger>& log() const { return log_; }

  // --- stop, in this order
  // Closes every session with 1001 (going away); waits (bounded) until they are gone.
  void close_sessions(std::chrono::milliseconds timeout);
  // Ends the upstream streams.
  void stop_links(std::chrono::milliseconds timeout);

 private:
  void link_status_changed();

  const ProxyOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  ProxyMetrics metrics_;
  // Which chat nodes serve, when there are several (the links choose by it).
  std::unique_ptr<chat::net::ChatNodeHealth> node_health_;
  Fanout fanout_;
  std::vector<std::unique_ptr<UpstreamLink>> links_;
  std::atomic<std::uint64_t> next_session_id_{1};
  SessionRegistry sessions_;
  FrameRouter router_;
};

}  // namespace chat::proxy
