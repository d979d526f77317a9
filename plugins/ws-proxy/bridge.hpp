// The proxy's switchboard between WebSocket sessions and the chat service:
// checks what clients send (shape, identity, limits), routes each room to its
// upstream link, keeps the sessions registry, and tells every client when the
// chat service becomes unavailable or is back.
#pragma once

#include "auth/room_grant.hpp"
#include "net/chat_node_health.hpp"

#include "fanout.hpp"
#include "handshake.hpp"
#include "io_shards.hpp"
#include "proxy_metrics.hpp"
#include "proxy_options.hpp"
#include "upstream_link.hpp"

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace chat::proxy {

class WsSession;

// What a connection is in the chat: touched on its session's thread only.
struct ClientState {
  std::string user;  // fixed by ?user=, the first join or the first message
  std::set<std::string> rooms;
  chat::auth::RoomGrant granted;  // the token's rooms (every room without tokens)
  // room -> when this connection's last "typing" there went upstream: one a
  // second is enough for anyone (the chat service passes no more on).
  std::map<std::string, std::chrono::steady_clock::time_point> typing_passed;
};

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
  void on_chat_message(const std::shared_ptr<WsSession>& session, ChatMessage& message);
  void on_join(const std::shared_ptr<WsSession>& session, Join& join);
  void on_leave(const std::shared_ptr<WsSession>& session, Leave& leave);
  void on_typing(const std::shared_ptr<WsSession>& session, Typing& typing);
  UpstreamLink& link_for(const std::string& room);
  void link_status_changed();
  // What the clients were last told; waits out a link_status_changed() in progress.
  bool announced_available() const;
  static Frame status_frame(bool available);

  const ProxyOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  ProxyMetrics metrics_;
  // Which chat nodes serve, when there are several (the links choose by it).
  std::unique_ptr<chat::net::ChatNodeHealth> node_health_;
  Fanout fanout_;
  std::vector<std::unique_ptr<UpstreamLink>> links_;
  std::atomic<std::uint64_t> next_session_id_{1};

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unordered_map<std::uint64_t, std::weak_ptr<WsSession>> sessions_;
  bool announced_available_ = false;  // what the clients were last told
};

}  // namespace chat::proxy
