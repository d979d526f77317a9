#include "retention_sweeper.hpp"

#include <chrono>

namespace chat::service {

RetentionSweeper::RetentionSweeper(chat::store::HistoryStore& store, chat::store::Retention policy,
                                   std::shared_ptr<spdlog::logger> log)
    : store_(store), policy_(policy), log_(std::move(log)), thread_([this] { run(); }) {}

RetentionSweeper::~RetentionSweeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void RetentionSweeper::run() {
  std::unique_lock lock(mutex_);
  do {
    lock.unlock();
    try {
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      if (auto removed = store_.apply_retention(policy_, now); removed > 0) {
        log_->info("retention removed {} messages", removed);
      }
    } catch (const std::exception& e) {
      log_->warn("retention could not run: {}", e.what());
    }
    lock.lock();
  } while (!wake_.wait_for(lock, std::chrono::minutes(1), [this] { return stopping_; }));
}

}  // namespace chat::service
