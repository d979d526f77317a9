// The wake-ups of a chat node that shares PostgreSQL with others: a
// connection of its own LISTENs on the channel every commit NOTIFYs (the
// payload: "<node id>\n<room id>"), and tells the watcher of the rooms that
// another node committed to. When the connection breaks it connects again
// every second; once back, it asks the watcher to catch up on every room,
// since notifications sent meanwhile are lost.
#pragma once

#include "store/history_store.hpp"

#include <atomic>
#include <string>
#include <thread>

namespace chat::store::pg {

inline constexpr const char* kCommitChannel = "chat_commits";

class CommitListener {
 public:
  CommitListener(std::string url, std::string node_id, CommitWatcher watcher);
  ~CommitListener();  // stops and joins the thread
  CommitListener(const CommitListener&) = delete;
  CommitListener& operator=(const CommitListener&) = delete;

 private:
  void run();

  const std::string url_;
  const std::string node_id_;
  const CommitWatcher watcher_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace chat::store::pg
