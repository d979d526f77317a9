#include "store/sqlite_checkpointer.hpp"

#include <pthread.h>

namespace chat::store::sqlite {

WalCheckpointer::WalCheckpointer(const std::string& file, const char* sync_pragma, CheckpointPolicy policy)
    : db_(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, "cannot open for checkpoints"), policy_(policy) {
  db_.exec(sync_pragma, "setting synchronous for checkpoints");
  if (policy_.background_pages > 0) {
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "sqlite-wal-copy");
  }
}

WalCheckpointer::~WalCheckpointer() {
  if (writer_ != nullptr) sqlite3_wal_hook(writer_, nullptr, nullptr);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void WalCheckpointer::watch(sqlite3* writer) {
  writer_ = writer;
  sqlite3_wal_hook(writer, &WalCheckpointer::on_commit, this);
}

int WalCheckpointer::on_commit(void* self, sqlite3* writer, const char* schema, int pages) {
  auto& checkpointer = *static_cast<WalCheckpointer*>(self);
  if (pages >= checkpointer.policy_.writer_pages) {
    // What the background left is copied now, so the next transaction
    // starts the WAL again. SQLITE_BUSY (the background pass holds the
    // checkpoint lock) is fine: the next commit tries again.
    sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    return SQLITE_OK;
  }
  if (checkpointer.policy_.background_pages > 0) {
    const int copied = checkpointer.copied_.load(std::memory_order_relaxed);
    // Fewer frames than were copied: the WAL started again since.
    const int behind = pages >= copied ? pages - copied : pages;
    if (behind >= checkpointer.policy_.background_pages) checkpointer.request();
  }
  return SQLITE_OK;
}

void WalCheckpointer::request() {
  // One wake-up per pass, not one per commit while a pass is under way.
  if (requested_.exchange(true, std::memory_order_acq_rel)) return;
  { std::lock_guard lock(mutex_); }
  wake_.notify_one();
}

void WalCheckpointer::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || requested_.load(std::memory_order_acquire); });
      if (stopping_) return;
    }
    int frames = 0;
    int copied = 0;
    // Errors need no answer here: a failed pass leaves the frames in the
    // WAL, where readers still find them, and the writer's own checkpoint
    // still bounds the file.
    if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied) == SQLITE_OK) {
      copied_.store(copied, std::memory_order_relaxed);
    }
    requested_.store(false, std::memory_order_release);
  }
}

}  // namespace chat::store::sqlite
