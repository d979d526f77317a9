#include "store/sqlite_schema.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

namespace chat::store::sqlite {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  room_id      TEXT    NOT NULL,
  sequence     INTEGER NOT NULL,
  sender_id    TEXT    NOT NULL,
  client_id    TEXT    NOT NULL,
  content      TEXT    NOT NULL,
  timestamp_ms INTEGER NOT NULL,
  PRIMARY KEY (room_id, sequence)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_sender ON messages (room_id, sender_id, sequence);
CREATE INDEX IF NOT EXISTS messages_by_client_id ON messages (room_id, sender_id, client_id);
-- Each room's newest sequence ever assigned: outlives its messages.
CREATE TABLE IF NOT EXISTS rooms (
  room_id       TEXT    NOT NULL PRIMARY KEY,
  last_sequence INTEGER NOT NULL
) WITHOUT ROWID;
-- Everyone who ever sent a message: outlives their messages too.
CREATE TABLE IF NOT EXISTS senders (
  sender_id TEXT NOT NULL PRIMARY KEY
) WITHOUT ROWID;
PRAGMA user_version = 1;
)sql";

constexpr const char* kColumns = "SELECT sequence, sender_id, client_id, content, timestamp_ms FROM messages ";

// OR ROLLBACK: a failing row ends the whole transaction (which append()
// would do anyway), so SQLite keeps no statement journal to undo just the
// statement: a multi-row INSERT would otherwise copy every page it touches
// into one, spilling to a temporary file past 64 KiB.
std::string insert_sql(std::size_t rows) {
  std::string sql =
      "INSERT OR ROLLBACK INTO messages (room_id, sequence, sender_id, client_id, content, timestamp_ms) VALUES ";
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (std::size_t column = 1; column <= kInsertColumns; ++column) {
      if (column > 1) sql += ", ";
      sql += "?" + std::to_string(row * kInsertColumns + column);
    }
    sql += ")";
  }
  return sql;
}

}  // namespace

std::string synchronous_pragma(const std::string& synchronous) {
  std::string mode = synchronous;
  std::transform(mode.begin(), mode.end(), mode.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (mode == "full") return "PRAGMA synchronous = FULL";
  if (mode == "normal") return "PRAGMA synchronous = NORMAL";
  throw StoreError("sqlite: synchronous must be \"full\" or \"normal\", not \"" + synchronous + "\"");
}

void set_wal(const Connection& db) {
  Statement pragma(db.get(), "PRAGMA journal_mode = WAL", "setting the WAL journal mode");
  auto use = pragma.use();
  const std::string mode = use.step() ? use.text(0) : std::string();
  if (mode != "wal") throw StoreError("sqlite: the database cannot use the WAL journal (mode: " + mode + ")");
}

void create_schema(const Connection& db) {
  db.exec("BEGIN IMMEDIATE", "starting the schema transaction");
  try {
    int version = 0;
    {
      Statement pragma(db.get(), "PRAGMA user_version", "reading the schema version");
      auto use = pragma.use();
      if (use.step()) version = static_cast<int>(use.int64(0));
    }
    if (version > kSchemaVersion) {
      throw StoreError("sqlite: the database has schema version " + std::to_string(version) +
                       ", newer than this server's " + std::to_string(kSchemaVersion));
    }
    if (version < kSchemaVersion) db.exec(kSchema, "creating the schema");
    db.exec("COMMIT", "committing the schema");
  } catch (...) {
    if (sqlite3_get_autocommit(db.get()) == 0) sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

StoredMessage read_message(const Statement::Use& row, const std::string& room_id) {
  StoredMessage message;
  message.room_id = room_id;
  message.sequence = static_cast<std::uint64_t>(row.int64(0));
  message.sender_id = row.text(1);
  message.client_id = row.text(2);
  message.content = row.text(3);
  message.timestamp_ms = row.int64(4);
  return message;
}

void Writer::prepare() {
  sqlite3* handle = db.get();
  begin = Statement(handle, "BEGIN IMMEDIATE", "starting a write transaction");
  commit = Statement(handle, "COMMIT", "committing");
  rollback = Statement(handle, "ROLLBACK", "rolling back");
  data_version = Statement(handle, "PRAGMA data_version", "reading the data version");
  load_room = Statement(handle, "SELECT last_sequence FROM rooms WHERE room_id = ?1", "reading a room");
  find = Statement(handle,
                   kColumns + std::string("WHERE room_id = ?1 AND sender_id = ?2 AND client_id = ?3 "
                                          "ORDER BY sequence LIMIT 1"),
                   "finding a resent message");
  insert_message = Statement(handle, insert_sql(1), "storing a message");
  insert_chunk = Statement(handle, insert_sql(kInsertChunk), "storing messages");
  upsert_room = Statement(handle,
                          "INSERT INTO rooms (room_id, last_sequence) VALUES (?1, ?2)"
                          " ON CONFLICT (room_id) DO UPDATE SET last_sequence = excluded.last_sequence",
                          "storing a room's sequence");
  insert_sender = Statement(handle, "INSERT OR IGNORE INTO senders (sender_id) VALUES (?1)", "storing a sender");
  rooms_above =
      Statement(handle, "SELECT room_id FROM rooms WHERE last_sequence > ?1", "listing rooms for retention");
  trim_room = Statement(handle,
                        "DELETE FROM messages WHERE room_id = ?1 AND sequence <= (SELECT sequence FROM"
                        " messages WHERE room_id = ?1 ORDER BY sequence DESC LIMIT 1 OFFSET ?2)",
                        "applying retention by count");
  delete_older = Statement(handle, "DELETE FROM messages WHERE timestamp_ms < ?1", "applying retention by age");
}

Reader::Reader(const std::string& file)
    : db(file, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, "cannot open a reader connection to") {
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  db.exec("PRAGMA query_only = ON", "setting query_only");
  sqlite3* handle = db.get();
  const std::string range = "WHERE room_id = ?1 AND sequence > ?2 AND sequence < ?3 ";
  // Without statistics the planner walks the primary key and filters,
  // reading a whole room to find a rare sender's page; the index seeks.
  const std::string sender_range =
      "INDEXED BY messages_by_sender WHERE room_id = ?1 AND sender_id = ?5 AND sequence > ?2 AND sequence < ?3 ";
  forwards = Statement(handle, kColumns + range + "ORDER BY sequence ASC LIMIT ?4", "reading history");
  backwards = Statement(handle, kColumns + range + "ORDER BY sequence DESC LIMIT ?4", "reading history");
  forwards_by_sender =
      Statement(handle, kColumns + sender_range + "ORDER BY sequence ASC LIMIT ?4", "reading history");
  backwards_by_sender =
      Statement(handle, kColumns + sender_range + "ORDER BY sequence DESC LIMIT ?4", "reading history");
  // One statement, so both values come from the same snapshot.
  bounds = Statement(handle,
                     "SELECT (SELECT MIN(sequence) FROM messages WHERE room_id = ?1),"
                     " (SELECT last_sequence FROM rooms WHERE room_id = ?1)",
                     "reading a room's bounds");
  find = Statement(handle,
                   kColumns + std::string("WHERE room_id = ?1 AND sender_id = ?2 AND client_id = ?3 "
                                          "ORDER BY sequence LIMIT 1"),
                   "finding a message by client id");
  senders = Statement(handle, "SELECT sender_id FROM senders ORDER BY sender_id", "reading senders");
  // One index seek per sender (messages_by_sender), not a read of the room.
  room_senders = Statement(handle,
      "WITH RECURSIVE s(sender_id, n) AS ("
      " SELECT (SELECT MIN(sender_id) FROM messages WHERE room_id = ?1), 1"
      " UNION ALL SELECT (SELECT MIN(sender_id) FROM messages WHERE room_id = ?1 AND sender_id > s.sender_id), n + 1"
      " FROM s WHERE s.sender_id IS NOT NULL AND n < ?2)"
      " SELECT sender_id FROM s WHERE sender_id IS NOT NULL",
      "reading a room's senders");
}

}  // namespace chat::store::sqlite
