// PostgresStore: the HistoryStore that several chat nodes share.
//
// One writer connection (behind writer_mutex_) takes each batch in one
// transaction, in two round trips (libpq's pipeline mode):
//   1. BEGIN; lock each room of the batch (its `rooms` row, FOR UPDATE, in
//      room order so two nodes never deadlock); look up the resends.
//   2. insert the messages, numbered after each room's locked counter; move
//      the counters; NOTIFY the other nodes; COMMIT.
// The room's row lock is held from numbering to COMMIT, so whichever node
// commits, a room's sequences are assigned in commit order with no gap, and
// a resend is looked up after any commit that could have stored it.
// synchronous_commit is on: a returned batch is committed (and on the
// synchronous standby, when there is one).
//
// Reads run on a small pool of reader connections, each a single
// statement, hence a single consistent snapshot. A connection that broke
// (the server restarted, a standby was promoted) connects again at its next
// use; until it can, calls throw StoreError.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/history_store.hpp"
#include "store/postgres_connection.hpp"
#include "store/postgres_listener.hpp"
#include "store/postgres_presence.hpp"
#include "store/postgres_schema.hpp"
#include "store/postgres_statements.hpp"

namespace chat::store {
namespace {

using pg::kInsertChunk;
using pg::Params;
using pg::read_message;
using pg::reader_statements;
using pg::Result;
using pg::Statement;
using pg::writer_statements;
using namespace pg::statements;

std::int64_t as_int64(std::uint64_t value) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max()));
}

// No stored text holds U+0000 (PostgreSQL's text cannot): an id with one
// names nothing. (libpq would read it only up to the NUL.)
bool has_nul(const std::string& text) { return text.find('\0') != std::string::npos; }

class PostgresStore final : public HistoryStore {
 public:
  explicit PostgresStore(const PostgresOptions& options) : options_(options) {
    if (options.url.empty()) throw StoreError("postgres: no database_url (DATABASE_URL) to connect to");
    if (options.reader_connections < 1) {
      throw StoreError("postgres: reader_connections must be at least 1, not " +
                       std::to_string(options.reader_connections));
    }
    if (options.node_id.empty() || options.node_id.find('\n') != std::string::npos) {
      throw StoreError("postgres: node_id must be one line, not empty");
    }
    // Migrate before preparing: the statements name the tables.
    pg::migrate(pg::Connection(options.url, "chat-host " + options.node_id + " migrate", {}));
    writer_ = pg::Connection(options.url, "chat-host " + options.node_id + " writer", writer_statements());
    readers_.reserve(static_cast<std::size_t>(options.reader_connections));
    for (int i = 0; i < options.reader_connections; ++i) {
      readers_.push_back(std::make_unique<pg::Connection>(
          options.url, "chat-host " + options.node_id + " reader", reader_statements()));
      idle_.push_back(readers_.back().get());
    }
    presence_ = std::make_unique<pg::PresenceKeeper>(options.url, options.node_id, options.presence_lease);
  }

  std::vector<StoredMessage> append(std::span<const NewMessage> batch) override {
    if (batch.empty()) return {};
    std::lock_guard lock(writer_mutex_);
    for (int attempt = 0;; ++attempt) {
      try {
        writer_.ensure_connected();
      } catch (const StoreError& e) {
        throw StoreUnavailable(e.what());
      }
      committing_ = false;
      try {
        writer_.enter_pipeline();
        auto stored = append_locked(batch);
        writer_.exit_pipeline();
        return stored;
      } catch (const StoreError& e) {
        abandon();
        // A connection found dead before COMMIT was sent (the server
        // restarted since the last batch) stored nothing: one more try on
        // a new one. After COMMIT was sent the outcome is unknown, and the
        // senders are told to resend instead.
        if (attempt == 0 && !committing_ && writer_.broken()) continue;
        // The connection went during the batch: the database is going away
        // (or failing over). The batch's outcome may be unknown, and its
        // senders resend.
        if (writer_.broken()) throw StoreUnavailable(e.what());
        throw;
      } catch (...) {
        abandon();
        throw;
      }
    }
  }

  HistoryPage history(const HistoryQuery& query) const override {
    HistoryPage page;
    if (has_nul(query.room_id) || has_nul(query.sender_id)) return page;
    const bool forwards = query.after.has_value();
    const bool by_sender = !query.sender_id.empty();
    const Statement& statement =
        forwards ? (by_sender ? kForwardsBySender : kForwards) : (by_sender ? kBackwardsBySender : kBackwards);
    Params params;
    params.add(query.room_id)
        .add(as_int64(query.after.value_or(0)))
        .add(query.before == 0 ? std::numeric_limits<std::int64_t>::max() : as_int64(query.before))
        .add(static_cast<std::int64_t>(query.limit) + 1);
    if (by_sender) params.add(query.sender_id);
    Result rows = read(statement, params, "reading history");

    const int count = PQntuples(rows.get());
    page.messages.reserve(std::min<std::size_t>(query.limit, 1024));
    std::size_t bytes = 0;
    for (int row = 0; row < count; ++row) {
      if (page.messages.size() == query.limit || (query.max_bytes > 0 && bytes >= query.max_bytes)) {
        page.has_more = true;
        break;
      }
      page.messages.push_back(read_message(rows.get(), row, query.room_id));
      bytes += page_bytes(page.messages.back().content);
    }
    if (!forwards) std::reverse(page.messages.begin(), page.messages.end());
    return page;
  }

  RoomBounds bounds(const std::string& room_id) const override {
    RoomBounds bounds;
    if (has_nul(room_id)) return bounds;
    Result row = read(kBounds, Params().add(room_id), "reading a room's bounds");
    if (!PQgetisnull(row.get(), 0, 0)) bounds.first_sequence = static_cast<std::uint64_t>(pg::int64(row.get(), 0, 0));
    if (!PQgetisnull(row.get(), 0, 1)) bounds.last_sequence = static_cast<std::uint64_t>(pg::int64(row.get(), 0, 1));
    return bounds;
  }

  std::optional<StoredMessage> find_by_client_id(const std::string& room_id, const std::string& sender_id,
                                                 const std::string& client_id) const override {
    if (client_id.empty() || has_nul(room_id) || has_nul(sender_id) || has_nul(client_id)) return std::nullopt;
    Result rows = read(kFind, Params().add(room_id).add(sender_id).add(client_id), "finding a message by client id");
    if (PQntuples(rows.get()) == 0) return std::nullopt;
    return read_message(rows.get(), 0, room_id);
  }

  std::vector<std::string> room_senders(const std::string& room_id, std::size_t limit) const override {
    std::vector<std::string> senders;
    if (limit == 0 || has_nul(room_id)) return senders;
    Result rows = read(kRoomSenders, Params().add(room_id).add(std::to_string(limit)), "reading a room's senders");
    for (int row = 0; row < PQntuples(rows.get()); ++row) senders.push_back(pg::text(rows.get(), row, 0));
    return senders;
  }

  std::vector<std::string> senders() const override {
    Result rows = read(kSenders, Params(), "reading senders");
    std::vector<std::string> senders;
    const int count = PQntuples(rows.get());
    senders.reserve(static_cast<std::size_t>(count));
    for (int row = 0; row < count; ++row) senders.push_back(pg::text(rows.get(), row, 0));
    return senders;
  }

  bool shared() const override { return true; }

  void set_present(const std::string& room_id, const std::string& user, bool joined) override {
    if (joined) {
      presence_->joined(room_id, user);
    } else {
      presence_->left(room_id, user);
    }
  }

  void announce_typing(const std::string& room_id, const std::string& user, bool stopped) override {
    presence_->typing(room_id, user, stopped);
  }

  std::vector<std::pair<std::string, std::string>> present_elsewhere(const std::string& room_id) const override {
    std::vector<std::pair<std::string, std::string>> present;
    if (has_nul(room_id)) return present;
    Result rows = read(kPresentElsewhere, Params().add(room_id).add(options_.node_id), "reading presence");
    for (int row = 0; row < PQntuples(rows.get()); ++row) {
      present.emplace_back(pg::text(rows.get(), row, 0), pg::text(rows.get(), row, 1));
    }
    return present;
  }

  std::optional<bool> answers() override {
    std::lock_guard lock(writer_mutex_);
    try {
      writer_.ensure_connected();
      writer_.exec("SELECT 1", "checking the database answers");
      return true;
    } catch (const StoreError&) {
      return false;
    }
  }

  void watch(CommitWatcher watcher) override {
    std::lock_guard lock(listener_mutex_);
    listener_ = std::make_unique<pg::CommitListener>(options_.url, options_.node_id, std::move(watcher));
  }

  void stop_watching() override {
    std::lock_guard lock(listener_mutex_);
    listener_.reset();
  }

  std::uint64_t apply_retention(const Retention& policy, std::int64_t now_ms) override {
    const bool by_count = policy.max_messages_per_room > 0;
    const bool by_age = policy.max_age.count() > 0;
    if (!by_count && !by_age) return 0;
    std::lock_guard lock(writer_mutex_);
    writer_.ensure_connected();
    std::uint64_t deleted = 0;
    try {
      // Each node may run this at once: the deletes are idempotent.
      writer_.exec("BEGIN", "starting retention");
      if (by_count) {
        const std::int64_t keep = as_int64(policy.max_messages_per_room);
        Result trimmed = writer_.run(
            "DELETE FROM messages m USING rooms r WHERE r.last_sequence > $1 AND m.room_id = r.room_id"
            " AND m.sequence <= (SELECT sequence FROM messages WHERE room_id = r.room_id"
            " ORDER BY sequence DESC LIMIT 1 OFFSET $1)",
            Params().add(keep), "applying retention by count");
        deleted += std::stoull(PQcmdTuples(trimmed.get()));
      }
      if (by_age) {
        Result old = writer_.run("DELETE FROM messages WHERE timestamp_ms < $1",
                                 Params().add(age_cutoff_ms(now_ms, policy.max_age)), "applying retention by age");
        deleted += std::stoull(PQcmdTuples(old.get()));
      }
      writer_.exec("COMMIT", "committing retention");
    } catch (...) {
      abandon();
      throw;
    }
    return deleted;
  }

 private:
  using ClientKey = std::tuple<std::string, std::string, std::string>;  // room, sender, client id

  std::vector<StoredMessage> append_locked(std::span<const NewMessage> batch) {
    // Round trip 1: lock the rooms in order, look up the resends.
    std::map<std::string, std::uint64_t> last;  // room -> counter; sorted: the lock order
    for (const NewMessage& message : batch) last.try_emplace(message.room_id, 0);
    std::vector<std::size_t> resends;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i].resend && !batch[i].client_id.empty()) resends.push_back(i);
    }
    writer_.send("BEGIN", "starting a write transaction");
    for (const auto& [room_id, counter] : last) {
      writer_.send(kAddRoom, Params().add(room_id), "adding a room");
      writer_.send(kLockRoom, Params().add(room_id), "locking a room");
    }
    for (std::size_t i : resends) {
      writer_.send(kFind, Params().add(batch[i].room_id).add(batch[i].sender_id).add(batch[i].client_id),
                   "looking up a resend");
    }
    writer_.sync();
    writer_.next("starting a write transaction");
    for (auto& [room_id, counter] : last) {
      writer_.next("adding a room");
      Result row = writer_.next("locking a room");
      counter = static_cast<std::uint64_t>(pg::int64(row.get(), 0, 0));
    }
    std::map<std::size_t, StoredMessage> originals;
    for (std::size_t i : resends) {
      Result rows = writer_.next("looking up a resend");
      if (PQntuples(rows.get()) > 0) originals.emplace(i, read_message(rows.get(), 0, batch[i].room_id));
    }
    expect_sync();

    // Number the new messages; a resend of one earlier in this batch is that one.
    std::vector<StoredMessage> stored;
    stored.reserve(batch.size());
    std::vector<std::size_t> fresh;
    std::map<ClientKey, std::size_t> batch_ids;
    std::set<std::string> touched;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      const NewMessage& message = batch[i];
      const ClientKey key{message.room_id, message.sender_id, message.client_id};
      if (auto original = originals.find(i); original != originals.end()) {
        stored.push_back(std::move(original->second));
        stored.back().duplicate = true;
        continue;
      }
      if (message.resend && !message.client_id.empty()) {
        if (auto earlier = batch_ids.find(key); earlier != batch_ids.end()) {
          stored.push_back(stored[earlier->second]);
          stored.back().duplicate = true;
          continue;
        }
      }
      std::uint64_t& counter = last[message.room_id];
      if (counter >= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        throw StoreError("postgres: room " + message.room_id + " has used up its sequences");
      }
      stored.push_back(StoredMessage{message.room_id, ++counter, message.sender_id, message.client_id,
                                     message.content, message.timestamp_ms});
      if (!message.client_id.empty()) batch_ids.try_emplace(key, stored.size() - 1);
      fresh.push_back(stored.size() - 1);
      touched.insert(message.room_id);
    }

    // Round trip 2: store, move the counters, wake the other nodes, commit.
    std::size_t statements = 0;
    std::size_t next = 0;
    for (; fresh.size() - next >= kInsertChunk; next += kInsertChunk) {
      Params params;
      for (std::size_t k = next; k < next + kInsertChunk; ++k) pg::add_insert_row(params, stored[fresh[k]]);
      writer_.send(kInsertChunk_, params, "storing messages");
      ++statements;
    }
    for (; next < fresh.size(); ++next) {
      Params params;
      pg::add_insert_row(params, stored[fresh[next]]);
      writer_.send(kInsertOne, params, "storing a message");
      ++statements;
    }
    std::set<std::string> new_senders;
    for (std::size_t k : fresh) {
      if (!known_senders_.contains(stored[k].sender_id)) new_senders.insert(stored[k].sender_id);
    }
    for (const std::string& sender : new_senders) {
      writer_.send(kAddSender, Params().add(sender), "storing a sender");
      ++statements;
    }
    std::vector<std::string> payloads;
    payloads.reserve(touched.size());
    for (const std::string& room_id : touched) {
      writer_.send(kSetRoom, Params().add(room_id).add(as_int64(last[room_id])), "storing a room's sequence");
      // Delivered at COMMIT, to every node listening (this one too).
      payloads.push_back(options_.node_id + "\n" + room_id);
      writer_.send(kNotify, Params().add(writer_.channel(pg::kCommitChannel)).add(payloads.back()),
                   "notifying the other nodes");
      statements += 2;
    }
    committing_ = true;
    writer_.send("COMMIT", "committing");
    writer_.sync();
    for (std::size_t k = 0; k < statements; ++k) writer_.next("storing the batch");
    writer_.next("committing");
    expect_sync();

    known_senders_.insert(new_senders.begin(), new_senders.end());
    return stored;
  }

  void expect_sync() {
    Result result(PQgetResult(writer_.get()));
    if (result == nullptr || PQresultStatus(result.get()) != PGRES_PIPELINE_SYNC) {
      pg::check(writer_.get(), result.get(), "ending a pipeline");
      throw StoreError("postgres: the server's answers are out of step with the statements sent");
    }
  }

  // After a failure: read what is left of the pipeline and roll back, so the
  // connection is ready for the next batch; a connection that broke is
  // opened again at its next use.
  void abandon() noexcept {
    if (writer_.broken()) return;
    try {
      writer_.exit_pipeline();
      if (PQtransactionStatus(writer_.get()) != PQTRANS_IDLE) {
        Result rollback(PQexec(writer_.get(), "ROLLBACK"));
      }
    } catch (...) {  // the next use connects again if it must
    }
  }

  // A reader connection for one statement, waiting for one if all are busy.
  Result read(const Statement& statement, const Params& params, std::string_view what) const {
    pg::Connection* reader = nullptr;
    {
      std::unique_lock lock(pool_mutex_);
      pool_ready_.wait(lock, [this] { return !idle_.empty(); });
      reader = idle_.back();
      idle_.pop_back();
    }
    struct Return {
      const PostgresStore& store;
      pg::Connection* reader;
      ~Return() {
        {
          std::lock_guard lock(store.pool_mutex_);
          store.idle_.push_back(reader);
        }
        store.pool_ready_.notify_one();
      }
    } give_back{*this, reader};
    reader->ensure_connected();
    try {
      return reader->run(statement, params, what);
    } catch (const StoreError&) {
      // The server restarted since this connection's last use: a read may
      // simply be asked again, on a new one.
      if (!reader->broken()) throw;
      reader->ensure_connected();
      return reader->run(statement, params, what);
    }
  }

  const PostgresOptions options_;

  std::mutex writer_mutex_;
  pg::Connection writer_;                          // guarded by writer_mutex_
  bool committing_ = false;                        // guarded by writer_mutex_: this batch's COMMIT was sent
  std::unordered_set<std::string> known_senders_;  // guarded by writer_mutex_: stored in `senders`

  std::vector<std::unique_ptr<pg::Connection>> readers_;
  mutable std::mutex pool_mutex_;
  mutable std::condition_variable pool_ready_;
  mutable std::vector<pg::Connection*> idle_;  // guarded by pool_mutex_

  std::unique_ptr<pg::PresenceKeeper> presence_;

  // Last: its thread, which may still be reading, stops first.
  std::mutex listener_mutex_;
  std::unique_ptr<pg::CommitListener> listener_;  // guarded by listener_mutex_
};

}  // namespace

std::unique_ptr<HistoryStore> open_postgres_store(const PostgresOptions& options) {
  return std::make_unique<PostgresStore>(options);
}

}  // namespace chat::store
