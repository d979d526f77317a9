// SqliteStore: the durable HistoryStore.
//
// One writer connection (behind writer_mutex_) takes every write in one
// BEGIN IMMEDIATE ... COMMIT, so a batch is one fsync (group commit). Reads
// run on a small pool of reader connections; in WAL mode a reader sees the
// last committed snapshot and never waits for the writer's commit or sync.
// Each read is a single statement, hence a single consistent snapshot.
// The WAL is copied into the database file on a thread of its own
// (sqlite_checkpointer.hpp), not inside a commit.
//
// Each room's counter lives in `rooms`, so sequences survive retention
// deleting every message of a room; the writer caches the counters of the
// rooms it has used and only updates the cache once a batch has committed.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/history_store.hpp"
#include "store/sqlite_checkpointer.hpp"
#include "store/sqlite_handle.hpp"
#include "store/sqlite_schema.hpp"

namespace chat::store {
namespace {

using sqlite::clamp_to_int64;
using sqlite::CheckpointPolicy;
using sqlite::Connection;
using sqlite::create_schema;
using sqlite::kBusyTimeoutMs;
using sqlite::kInsertChunk;
using sqlite::kInsertColumns;
using sqlite::read_message;
using sqlite::Reader;
using sqlite::set_wal;
using sqlite::Statement;
using sqlite::synchronous_pragma;
using sqlite::WalCheckpointer;
using sqlite::Writer;

class SqliteStore final : public HistoryStore {
 public:
  SqliteStore(const std::filesystem::path& path, const SqliteOptions& options) {
    const std::string sync_pragma = synchronous_pragma(options.synchronous);
    if (options.reader_connections < 1) {
      throw StoreError("sqlite: reader_connections must be at least 1, not " +
                       std::to_string(options.reader_connections));
    }
    if (sqlite3_threadsafe() == 0) throw StoreError("sqlite: the SQLite library was built without thread support");

    if (const auto parent = path.parent_path(); !parent.empty()) {
      std::error_code error;
      std::filesystem::create_directories(parent, error);
      if (error) throw StoreError("sqlite: cannot create directory " + parent.string() + ": " + error.message());
    }
    const std::string file = path.string();

    // Each connection is used by one thread at a time (the writer under its
    // mutex, a reader while leased), so SQLite's own mutexes are not needed.
    writer_.db = Connection(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, "cannot open");
    sqlite3* db = writer_.db.get();
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    set_wal(writer_.db);
    writer_.db.exec(sync_pragma.c_str(), "setting synchronous");
    // A checkpointed WAL is reused, not shrunk: after a burst (a large
    // retention run) cut it back to this size.
    writer_.db.exec("PRAGMA journal_size_limit = 67108864", "setting journal_size_limit");
    create_schema(writer_.db);
    writer_.prepare();
    data_version_ = read_data_version();

    readers_.reserve(static_cast<std::size_t>(options.reader_connections));
    for (int i = 0; i < options.reader_connections; ++i) {
      readers_.push_back(std::make_unique<Reader>(file));
      idle_.push_back(readers_.back().get());
    }
    checkpointer_ = std::make_unique<WalCheckpointer>(
        file, sync_pragma.c_str(),
        CheckpointPolicy{options.background_checkpoint_pages, options.writer_checkpoint_pages});
    checkpointer_->watch(writer_.db.get());
  }

  std::vector<StoredMessage> append(std::span<const NewMessage> batch) override {
    std::vector<StoredMessage> stored;
    if (batch.empty()) return stored;
    stored.reserve(batch.size());

    std::lock_guard lock(writer_mutex_);
    // The rooms' counters as this batch moves them; into last_sequence_ only
    // once committed, so a failed batch consumes no sequence.
    std::unordered_map<std::string, std::uint64_t> batch_last;
    begin_write();
    try {
      std::unordered_set<std::string_view> batch_senders;
      std::vector<std::size_t> fresh;  // indexes into `stored` of what this batch adds
      fresh.reserve(batch.size());
      for (const NewMessage& message : batch) {
        if (message.resend) {
          // Stored before, or earlier in this batch: that message, again.
          auto original = find_written(message);
          if (!original) original = find_in_batch(stored, fresh, message);
          if (original) {
            stored.push_back(std::move(*original));
            stored.back().duplicate = true;
            continue;
          }
        }
        auto [room, added] = batch_last.try_emplace(message.room_id, 0);
        if (added) room->second = last_sequence_locked(message.room_id);
        const std::uint64_t sequence = ++room->second;
        if (sequence > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          throw StoreError("sqlite: room " + message.room_id + " has used up its sequences");
        }
        stored.push_back(StoredMessage{message.room_id, sequence, message.sender_id, message.client_id, message.content,
                                       message.timestamp_ms});
        fresh.push_back(stored.size() - 1);
        if (batch_senders.insert(message.sender_id).second) {
          writer_.insert_sender.use().bind(1, message.sender_id).run();
        }
      }
      // Many rows per INSERT: a statement's fixed cost is paid once a chunk
      // (about a fifth of the CPU time of a large batch).
      std::size_t next = 0;
      for (; fresh.size() - next >= kInsertChunk; next += kInsertChunk) {
        insert_rows(writer_.insert_chunk, stored, std::span(fresh).subspan(next, kInsertChunk));
      }
      for (; next < fresh.size(); ++next) {
        insert_rows(writer_.insert_message, stored, std::span(fresh).subspan(next, 1));
      }
      for (const auto& [room_id, last] : batch_last) {
        writer_.upsert_room.use().bind(1, room_id).bind(2, static_cast<std::int64_t>(last)).run();
      }
      writer_.commit.use().run();
    } catch (...) {
      rollback();
      throw;
    }
    for (auto& [room_id, last] : batch_last) last_sequence_.insert_or_assign(room_id, last);
    return stored;
  }

  HistoryPage history(const HistoryQuery& query) const override {
    Lease reader(*this);
    // With `after` set (0 included), the page reads forwards from it;
    // otherwise backwards from `before` (or the newest). One more row than asked tells has_more.
    const bool forwards = query.after.has_value();
    const bool by_sender = !query.sender_id.empty();
    Statement& statement = forwards ? (by_sender ? reader->forwards_by_sender : reader->forwards)
                                    : (by_sender ? reader->backwards_by_sender : reader->backwards);
    auto select = statement.use();
    select.bind(1, query.room_id)
        .bind(2, clamp_to_int64(query.after.value_or(0)))
        .bind(3, query.before == 0 ? std::numeric_limits<std::int64_t>::max() : clamp_to_int64(query.before))
        .bind(4, static_cast<std::int64_t>(query.limit) + 1);
    if (by_sender) select.bind(5, query.sender_id);

    HistoryPage page;
    page.messages.reserve(std::min<std::size_t>(query.limit, 1024));
    std::size_t bytes = 0;
    while (select.step()) {
      if (page.messages.size() == query.limit || (query.max_bytes > 0 && bytes >= query.max_bytes)) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(read_message(select, query.room_id));
      bytes += page_bytes(page.messages.back().content);
    }
    if (!forwards) std::reverse(page.messages.begin(), page.messages.end());
    return page;
  }

  RoomBounds bounds(const std::string& room_id) const override {
    Lease reader(*this);
    auto select = reader->bounds.use();
    select.bind(1, room_id);
    RoomBounds bounds;
    if (select.step()) {
      if (!select.is_null(0)) bounds.first_sequence = static_cast<std::uint64_t>(select.int64(0));
      if (!select.is_null(1)) bounds.last_sequence = static_cast<std::uint64_t>(select.int64(1));
    }
    return bounds;
  }

  std::optional<StoredMessage> find_by_client_id(const std::string& room_id, const std::string& sender_id,
                                                 const std::string& client_id) const override {
    if (client_id.empty()) return std::nullopt;  // "no id" identifies nothing
    Lease reader(*this);
    auto select = reader->find.use();
    select.bind(1, room_id).bind(2, sender_id).bind(3, client_id);
    if (!select.step()) return std::nullopt;
    return read_message(select, room_id);
  }

  std::vector<std::string> senders() const override {
    Lease reader(*this);
    auto select = reader->senders.use();
    std::vector<std::string> senders;
    while (select.step()) senders.push_back(select.text(0));
    return senders;
  }

  std::vector<std::string> room_senders(const std::string& room_id, std::size_t limit) const override {
    std::vector<std::string> senders;
    if (limit == 0) return senders;
    Lease reader(*this);
    auto select = reader->room_senders.use();
    select.bind(1, room_id).bind(2, static_cast<std::int64_t>(limit));
    while (select.step()) senders.push_back(select.text(0));
    return senders;
  }

  std::uint64_t apply_retention(const Retention& policy, std::int64_t now_ms) override {
    const bool by_count = policy.max_messages_per_room > 0;
    const bool by_age = policy.max_age.count() > 0;
    if (!by_count && !by_age) return 0;

    std::lock_guard lock(writer_mutex_);
    begin_write();
    std::uint64_t deleted = 0;
    try {
      if (by_count) {
        const std::int64_t keep = clamp_to_int64(policy.max_messages_per_room);
        // A room never given more than `keep` sequences cannot hold more.
        std::vector<std::string> rooms;
        {
          auto select = writer_.rooms_above.use();
          select.bind(1, keep);
          while (select.step()) rooms.push_back(select.text(0));
        }
        for (const std::string& room_id : rooms) {
          writer_.trim_room.use().bind(1, room_id).bind(2, keep).run();
          deleted += static_cast<std::uint64_t>(sqlite3_changes64(writer_.db.get()));
        }
      }
      if (by_age) {
        writer_.delete_older.use().bind(1, age_cutoff_ms(now_ms, policy.max_age)).run();
        deleted += static_cast<std::uint64_t>(sqlite3_changes64(writer_.db.get()));
      }
      writer_.commit.use().run();
    } catch (...) {
      rollback();
      throw;
    }
    return deleted;
  }

 private:
  // A reader connection for the scope's duration, waiting for one if all
  // are busy.
  class Lease {
   public:
    explicit Lease(const SqliteStore& store) : store_(store) {
      std::unique_lock lock(store_.pool_mutex_);
      store_.pool_ready_.wait(lock, [this] { return !store_.idle_.empty(); });
      reader_ = store_.idle_.back();
      store_.idle_.pop_back();
    }
    ~Lease() {
      {
        std::lock_guard lock(store_.pool_mutex_);
        store_.idle_.push_back(reader_);
      }
      store_.pool_ready_.notify_one();
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Reader* operator->() const { return reader_; }

   private:
    const SqliteStore& store_;
    Reader* reader_ = nullptr;
  };

  // As many rows as the statement takes; their strings are bound, not copied.
  static void insert_rows(Statement& statement, const std::vector<StoredMessage>& stored,
                          std::span<const std::size_t> rows) {
    auto insert = statement.use();
    int base = 0;
    for (const std::size_t index : rows) {
      const StoredMessage& row = stored[index];
      insert.bind(base + 1, row.room_id)
          .bind(base + 2, static_cast<std::int64_t>(row.sequence))
          .bind(base + 3, row.sender_id)
          .bind(base + 4, row.client_id)
          .bind(base + 5, row.content)
          .bind(base + 6, row.timestamp_ms);
      base += static_cast<int>(kInsertColumns);
    }
    insert.run();
  }

  // The stored message a resend sends again, read inside the write
  // transaction.
  std::optional<StoredMessage> find_written(const NewMessage& resend) {
    if (resend.client_id.empty()) return std::nullopt;
    auto select = writer_.find.use();
    select.bind(1, resend.room_id).bind(2, resend.sender_id).bind(3, resend.client_id);
    if (!select.step()) return std::nullopt;
    return read_message(select, resend.room_id);
  }

  static std::optional<StoredMessage> find_in_batch(const std::vector<StoredMessage>& stored,
                                                    const std::vector<std::size_t>& fresh, const NewMessage& resend) {
    if (resend.client_id.empty()) return std::nullopt;
    for (const std::size_t index : fresh) {
      const StoredMessage& m = stored[index];
      if (m.room_id == resend.room_id && m.sender_id == resend.sender_id && m.client_id == resend.client_id) return m;
    }
    return std::nullopt;
  }

  std::int64_t read_data_version() {
    auto use = writer_.data_version.use();
    return use.step() ? use.int64(0) : 0;
  }

  // BEGIN IMMEDIATE takes the write lock now (waiting up to the busy
  // timeout for another process's writer) rather than at the first write.
  void begin_write() {
    writer_.begin.use().run();
    try {
      // Another connection committed since our last transaction (another
      // process on the same file): the cached counters may be stale.
      if (const auto version = read_data_version(); version != data_version_) {
        data_version_ = version;
        last_sequence_.clear();
      }
    } catch (...) {
      rollback();
      throw;
    }
  }

  void rollback() noexcept {
    // Some errors (disk full, I/O) already ended the transaction.
    if (sqlite3_get_autocommit(writer_.db.get()) != 0) return;
    try {
      writer_.rollback.use().run();
    } catch (...) {  // nothing better to do: the next BEGIN will fail loudly
    }
  }

  std::uint64_t last_sequence_locked(const std::string& room_id) {
    if (auto it = last_sequence_.find(room_id); it != last_sequence_.end()) return it->second;
    std::uint64_t last = 0;
    {
      auto select = writer_.load_room.use();
      select.bind(1, room_id);
      if (select.step()) last = static_cast<std::uint64_t>(select.int64(0));
    }
    // Committed state (we hold the write lock): safe to cache even if this
    // batch fails.
    last_sequence_.emplace(room_id, last);
    return last;
  }

  std::mutex writer_mutex_;
  Writer writer_;                                                 // guarded by writer_mutex_
  std::unordered_map<std::string, std::uint64_t> last_sequence_;  // guarded by writer_mutex_
  std::int64_t data_version_ = 0;                                 // guarded by writer_mutex_

  // Declared after the writer, so closed first: the writer, closing last,
  // checkpoints the WAL into the database file.
  std::vector<std::unique_ptr<Reader>> readers_;
  mutable std::mutex pool_mutex_;
  mutable std::condition_variable pool_ready_;
  mutable std::vector<Reader*> idle_;  // guarded by pool_mutex_
  // Last, so closed first: its thread stops before any connection closes.
  std::unique_ptr<WalCheckpointer> checkpointer_;
};

}  // namespace

std::unique_ptr<HistoryStore> open_sqlite_store(const std::filesystem::path& path, const SqliteOptions& options) {
  return std::make_unique<SqliteStore>(path, options);
}

}  // namespace chat::store
