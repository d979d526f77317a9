// Where chat messages live: a room-ordered, durable log with paging.
// SqliteStore (default, durable) and MemoryStore (tests, demos) implement it.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace chat::store {

// A message as the service hands it to the store.
struct NewMessage {
  std::string room_id;
  std::string sender_id;
  std::string client_id;  // the id the client chose; may be empty
  std::string content;
  std::int64_t timestamp_ms = 0;  // server time, ms since the Unix epoch
};

struct StoredMessage {
  std::string room_id;
  std::uint64_t sequence = 0;
  std::string sender_id;
  std::string client_id;
  std::string content;
  std::int64_t timestamp_ms = 0;
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

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thread-safe. append() is called from one committer thread; reads come from
// any thread and should not wait for a commit's sync.
class HistoryStore {
 public:
  virtual ~HistoryStore() = default;

  // Gives each message the next sequence of its room and makes the whole
  // batch durable in one transaction before returning them (same order as
  // the input). On failure throws StoreError and nothing is kept: the
  // sequences are not consumed.
  virtual std::vector<StoredMessage> append(std::span<const NewMessage> batch) = 0;

  virtual HistoryPage history(const HistoryQuery& query) const = 0;

  virtual RoomBounds bounds(const std::string& room_id) const = 0;

  // A message of `room_id` from `sender_id` with that client id, if stored.
  virtual std::optional<StoredMessage> find_by_client_id(const std::string& room_id, const std::string& sender_id,
                                                         const std::string& client_id) const = 0;

  // Distinct senders ever stored.
  virtual std::vector<std::string> senders() const = 0;

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
};

// Creates the file (and its directory) on first use; WAL journal.
std::unique_ptr<HistoryStore> open_sqlite_store(const std::filesystem::path& path, const SqliteOptions& options = {});
std::unique_ptr<HistoryStore> make_memory_store();

}  // namespace chat::store
