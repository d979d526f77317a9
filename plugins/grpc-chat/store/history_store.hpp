// Where chat messages live: a room-ordered, durable log with paging.
// SqliteStore (default, durable, one chat node), PostgresStore (durable,
// shared by several chat nodes) and MemoryStore (tests, demos) implement it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace chat::store {

// A message as the service hands it to the store. Its text is valid UTF-8
// without U+0000 (the service refuses that; PostgreSQL's text cannot hold it).
struct NewMessage {
  std::string room_id;
  std::string sender_id;
  std::string client_id;  // the id the client chose; may be empty
  std::string content;
  std::int64_t timestamp_ms = 0;  // server time, ms since the Unix epoch
  // The client sends it again (it never learnt whether the first try was
  // stored): if a message of the room from that sender with that client id
  // is stored, append() returns it, marked duplicate, and stores nothing.
  bool resend = false;
};

struct StoredMessage {
  std::string room_id;
  std::uint64_t sequence = 0;
  std::string sender_id;
  std::string client_id;
  std::string content;
  std::int64_t timestamp_ms = 0;
  // From append(): a resend of this message, stored before; nothing new.
  bool duplicate = false;
};

// Paging by sequence; see GetChatHistoryRequest in proto/chat.proto.
struct HistoryQuery {
  std::string room_id;
  std::string sender_id;      // empty: everyone
  std::uint32_t limit = 50;   // 1..1000, checked by the caller
  std::uint64_t before = 0;   // 0: no upper bound
  // Set: read forwards, oldest first, from just after it (0: from the
  // room's start). Unset: read backwards from `before` or the newest.
  std::optional<std::uint64_t> after;
  // The page ends early (has_more) once its messages take this many bytes
  // by page_bytes(); always one message at least. 0: no bound.
  std::size_t max_bytes = 0;
};

// What a message counts toward HistoryQuery::max_bytes: its content and
// 256 for the rest (ids, numbers, names), about its size as JSON.
inline std::size_t page_bytes(const std::string& content) { return content.size() + 256; }

struct HistoryPage {
  std::vector<StoredMessage> messages;  // oldest first
  bool has_more = false;                // more beyond the page, in reading direction
};

struct RoomBounds {
  std::uint64_t first_sequence = 0;  // oldest kept; 0: none kept
  std::uint64_t last_sequence = 0;   // newest ever assigned; 0: never used
};

struct Retention {
  std::uint64_t max_messages_per_room = 0;  // 0: unlimited
  std::chrono::seconds max_age{0};          // 0: unlimited
};

// Messages older than this go under a max_age policy: now_ms - max_age
// without overflow; INT64_MIN: nothing is that old.
inline std::int64_t age_cutoff_ms(std::int64_t now_ms, std::chrono::seconds max_age) {
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  const std::int64_t seconds = max_age.count();
  if (seconds > std::numeric_limits<std::int64_t>::max() / 1000) return min;
  const std::int64_t age_ms = seconds * 1000;
  return now_ms < min + age_ms ? min : now_ms - age_ms;
}

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The store cannot be reached now (its database server is down, restarting
// or failing over): nothing was stored, and the same call may work soon.
class StoreUnavailable : public StoreError {
 public:
  using StoreError::StoreError;
};

// What a store shared by several chat nodes tells this one of the others'
// commits. The table is the truth and these are wake-ups: on either, read
// the store from the last sequence delivered.
struct CommitWatcher {
  // Another node committed messages to this room.
  std::function<void(const std::string& room_id)> committed_elsewhere;
  // Wake-ups may have been missed (the listening connection broke and is
  // back): every room may have news.
  std::function<void()> catch_up;
  // The listening connection broke (with the reason) or is back (empty),
  // for the log: nothing to do meanwhile, catch_up follows.
  std::function<void(const std::string& trouble)> listening_changed;
  // About once a second: a moment to retry reads that failed.
  std::function<void()> tick;
  // A user joined (`joined`) or left a room on another node, or its node
  // died and its lease ran out (a leave).
  std::function<void(const std::string& room_id, const std::string& user, const std::string& node, bool joined)>
      presence_elsewhere;
  // A user on another node is typing in a room (or `stopped`).
  std::function<void(const std::string& room_id, const std::string& user, bool stopped)> typing_elsewhere;
};

// Thread-safe. append() is called from one committer thread; reads come from
// any thread and should not wait for a commit's sync.
class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  // Gives each message the next sequence of its room and makes the whole
  // batch durable in one transaction before returning them (same order as
  // the input). A resend of a stored message comes back as that message,
  // marked duplicate; the check and the numbering happen in the same
  // transaction, so two chat nodes never both store one resend. On failure
  // throws StoreError and nothing is kept: the sequences are not consumed
  // (with PostgreSQL, when the connection died during COMMIT the batch may
  // be stored: its senders resend, and the resends find it).
  virtual std::vector<StoredMessage> append(std::span<const NewMessage> batch) = 0;

  virtual HistoryPage history(const HistoryQuery& query) const = 0;

  virtual RoomBounds bounds(const std::string& room_id) const = 0;

  // A message of `room_id` from `sender_id` with that client id, if stored.
  virtual std::optional<StoredMessage> find_by_client_id(const std::string& room_id, const std::string& sender_id,
                                                         const std::string& client_id) const = 0;

  // Distinct senders ever stored.
  virtual std::vector<std::string> senders() const = 0;
  // The senders of the messages `room_id` holds now, sorted, at most
  // `limit` of them (a history filter's choices). Each one costs an index
  // seek, not a read of the room.
  virtual std::vector<std::string> room_senders(const std::string& room_id, std::size_t limit) const = 0;

  // Whether the store answers now: for a store on a database server, which
  // may go away and come back (a connection is tried). nullopt: a store that
  // cannot tell apart a passing failure (SQLite, memory): only a commit tells.
  virtual std::optional<bool> answers() { return std::nullopt; }

  // Whether other processes commit to the same rooms: deliveries then come
  // from the store (after watch()'s wake-ups) as well as from this node's
  // own commits, and a room's sequence may jump ahead of what it delivered.
  virtual bool shared() const { return false; }
  // Starts calling `watcher` from a thread of the store's own, until
  // stop_watching() returns (or the store is destroyed). Only shared stores call.
  virtual void watch(CommitWatcher /*watcher*/) {}
  virtual void stop_watching() {}

  // Presence across nodes (shared stores; the others ignore it): this
  // node's user is now in (`joined`) or out of a room. Written in the
  // background: never waits for the database.
  virtual void set_present(const std::string& /*room_id*/, const std::string& /*user*/, bool /*joined*/) {}
  // Tells the other nodes that this node's user is typing in a room (or
  // `stopped`): never stored, never waits for the database.
  virtual void announce_typing(const std::string& /*room_id*/, const std::string& /*user*/, bool /*stopped*/) {}
  // (user, node) present in the room through other nodes.
  virtual std::vector<std::pair<std::string, std::string>> present_elsewhere(const std::string& /*room_id*/) const {
    return {};
  }

  // Deletes what the policy no longer keeps; returns how many messages went.
  // Sequences are never reused: a room's last_sequence survives even when
  // every message of it is deleted.
  virtual std::uint64_t apply_retention(const Retention& policy, std::int64_t now_ms) = 0;
};

struct SqliteOptions {
  // "full": every commit is on disk before the ack (survives power loss);
  // "normal": survives a crash of the process, not of the machine.
  std::string synchronous = "full";
  int reader_connections = 4;
  // WAL checkpoints (store/sqlite_checkpointer.hpp): frames not yet copied
  // that start one in the background (0: none there), and frames in the WAL
  // at which the writer checkpoints itself. Tests make them small.
  int background_checkpoint_pages = 1000;
  int writer_checkpoint_pages = 16000;
};

struct PostgresOptions {
  std::string url;      // a libpq connection URI; it may hold the password: never logged
  std::string node_id;  // this chat node's name, unique among the nodes
  int reader_connections = 4;
  // A node's users stay present this long after its last renewal (every
  // third of it): when a node dies, its users leave within it.
  std::chrono::seconds presence_lease{15};
};

// Creates the file (and its directory) on first use; WAL journal.
std::unique_ptr<HistoryStore> open_sqlite_store(const std::filesystem::path& path, const SqliteOptions& options = {});
std::unique_ptr<HistoryStore> make_memory_store();
// Connects, and migrates the schema to this binary's version (refusing a
// database a newer chat-host migrated). Throws StoreError.
std::unique_ptr<HistoryStore> open_postgres_store(const PostgresOptions& options);

}  // namespace chat::store
