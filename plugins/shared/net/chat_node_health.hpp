// Which chat nodes serve, as gRPC health says: each node is asked
// grpc.health.v1.Health/Check for "chat.ChatService" every `period`, with the
// period as the deadline. A bridge that knows several nodes starts and moves
// its streams to a node that serves, and leaves one that stops serving
// (it hangs, has lost its database, or drains) without waiting for its
// streams to break.
//
// A node counts as serving until it has failed `kFailuresToDown` checks in a
// row (one slow answer on a busy node moves nothing) and again from its
// first good answer. Before the first round every node counts as serving.
#pragma once

#include "net/chat_service_check.hpp"

#include <grpcpp/grpcpp.h>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace chat::net {

class ChatNodeHealth {
 public:
  // Runs on the checking thread, never under a lock of this class.
  using Changed = std::function<void(std::size_t node, bool serving)>;
  static constexpr unsigned kFailuresToDown = 2;

  // `channels`: one per node, named by `targets` in the log.
  ChatNodeHealth(std::vector<std::shared_ptr<grpc::Channel>> channels, std::vector<std::string> targets,
                 std::chrono::milliseconds period, std::shared_ptr<spdlog::logger> log, Changed changed);
  ~ChatNodeHealth();
  ChatNodeHealth(const ChatNodeHealth&) = delete;
  ChatNodeHealth& operator=(const ChatNodeHealth&) = delete;

  void start();
  // Ends the checks in flight and the thread; no `changed` runs after it.
  void stop();

  std::size_t size() const { return nodes_.size(); }
  bool serving(std::size_t node) const { return nodes_[node].serving.load(std::memory_order_relaxed); }
  // The first node from `from` on (in list order, wrapping) that serves;
  // `from` itself when none does, so the caller keeps trying in order.
  std::size_t pick(std::size_t from) const;
  // Whether a node other than `node` serves.
  bool another_serves(std::size_t node) const;

 private:
  struct Node {
    std::shared_ptr<grpc::Channel> channel;
    std::string target;
    std::atomic<bool> serving{true};
    unsigned failures = 0;  // in a row; the checking thread's
  };
  struct Probe;

  void run();
  // One round: every node asked at once; returns when all answered or timed out.
  void check_all(std::unique_lock<std::mutex>& lock);
  // A check's answer, on a gRPC thread.
  void probe_done(Probe& probe, bool serving, const std::string& why);

  std::vector<Node> nodes_;
  const std::chrono::milliseconds period_;
  std::shared_ptr<spdlog::logger> log_;
  Changed changed_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::unique_ptr<Probe>> probes_;  // this round's, guarded by mutex_
  std::size_t probes_left_ = 0;
  std::thread thread_;
};

}  // namespace chat::net
