// Applies a store's retention policy once a minute on a thread of its own,
// off the commit path.
#pragma once

#include "store/history_store.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace chat::service {

class RetentionSweeper {
 public:
  RetentionSweeper(chat::store::HistoryStore& store, chat::store::Retention policy,
                   std::shared_ptr<spdlog::logger> log);
  ~RetentionSweeper();
  RetentionSweeper(const RetentionSweeper&) = delete;
  RetentionSweeper& operator=(const RetentionSweeper&) = delete;

 private:
  void run();

  chat::store::HistoryStore& store_;
  const chat::store::Retention policy_;
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace chat::service
