// Group commit: messages from every stream queue here; one thread stores them
// in batches (one transaction, one sync per batch), then acknowledges each to
// its sender and delivers it to its room, in sequence order.
#pragma once

#include "room_registry.hpp"
#include "store/history_store.hpp"
#include "stream_session.hpp"

#include <chathost/plugin.hpp>
#include <spdlog/logger.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace chat::service {

// What the committer publishes through the host's metrics.
struct CommitMetrics {
  chathost::Counter& stored;            // chat_messages_stored_total
  chathost::Histogram& commit_seconds;  // chat_store_commit_seconds: one store append (transaction + sync)
  chathost::Counter& failures;          // chat_store_failures_total: commits that failed
};

struct CommitStats {
  std::uint64_t committed = 0;
  std::uint64_t batches = 0;
  std::uint64_t failed = 0;
};

class MessageCommitter {
 public:
  // `store_answers(bool)`: called when a store that can tell (a database
  // server) stops or starts answering: the service's health follows it.
  MessageCommitter(store::HistoryStore& store, RoomRegistry& rooms, std::size_t max_batch,
                   std::shared_ptr<spdlog::logger> log, CommitMetrics metrics,
                   std::function<void(bool)> store_answers = nullptr);
  ~MessageCommitter();
  MessageCommitter(const MessageCommitter&) = delete;
  MessageCommitter& operator=(const MessageCommitter&) = delete;

  // Takes a validated message; false once stopping (the caller answers UNAVAILABLE).
  bool submit(const SessionPtr& sender, ChatMessage message);

  // Commits everything already submitted, then refuses new messages and joins the thread.
  void stop();

  CommitStats stats() const;

 private:
  struct Pending {
    SessionPtr sender;
    ChatMessage message;
  };

  void run();
  void commit(std::vector<Pending>& batch);
  // Answers a message that could not be stored: UNAVAILABLE (send it again
  // soon) when the store is unreachable, STORE_FAILED otherwise.
  static void refuse(const Pending& pending, bool unavailable);
  // While the store fails: asks it, about once a second, whether it answers
  // again, so health recovers without waiting for a message.
  void probe_failing_store();
  // One log line when the store starts failing and one when it works again,
  // however many batches fail in between (a full disk fails every one).
  void store_failed(const store::StoreError& error, std::size_t refused, bool unavailable);
  void store_works();

  store::HistoryStore& store_;
  RoomRegistry& rooms_;
  const std::size_t max_batch_;
  std::shared_ptr<spdlog::logger> log_;
  CommitMetrics metrics_;
  std::function<void(bool)> store_answers_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  CommitStats stats_;
  // Only the committer thread uses these two.
  bool store_failing_ = false;
  std::uint64_t refused_while_failing_ = 0;
  std::thread thread_;
};

}  // namespace chat::service
