// Private to the SQLite store: copies the WAL's committed pages into the
// database file on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its
// threshold, on the committing thread: that commit, and every message
// waiting behind it for its ack and its delivery, waits for the copy and
// its two syncs (one of the WAL, one of the database file). Here the writer
// only asks; a connection of the checkpointer's own does the copy while the
// writer goes on committing (a PASSIVE checkpoint takes no lock a writer
// needs).
//
// A WAL is only started again from its beginning by a writer that finds
// every frame copied; under steady load the background copy is always a
// little behind, so the writer checkpoints itself once the WAL reaches
// `writer_pages`, which bounds the file.
#pragma once

#include "store/sqlite_handle.hpp"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace chat::store::sqlite {

struct CheckpointPolicy {
  // Frames not yet copied that start a background checkpoint (SQLite's own
  // automatic threshold is 1000); 0: none in the background.
  int background_pages = 1000;
  // Frames in the WAL at which the writer checkpoints, as SQLite would.
  int writer_pages = 16000;
};

class WalCheckpointer {
 public:
  // Opens its connection to `file`, whose schema must exist; `sync_pragma`
  // is the writer's, so a checkpoint syncs as the commits do.
  WalCheckpointer(const std::string& file, const char* sync_pragma, CheckpointPolicy policy);
  // Stops the thread (a copy under way ends first) and unhooks the writer.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Takes over `writer`'s checkpoints (its WAL hook, in place of SQLite's
  // automatic checkpoint). `writer` must outlive this object.
  void watch(sqlite3* writer);

 private:
  // SQLite's WAL hook: runs on the writer's thread after each commit, with
  // the number of frames now in the WAL.
  static int on_commit(void* self, sqlite3* writer, const char* schema, int pages);
  void request();
  void run();

  Connection db_;
  const CheckpointPolicy policy_;
  sqlite3* writer_ = nullptr;
  // Frames the last background pass had copied (counted from the WAL's
  // start, as the hook's `pages` is).
  std::atomic<int> copied_{0};
  std::atomic<bool> requested_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace chat::store::sqlite
