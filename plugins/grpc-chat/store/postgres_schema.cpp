// The PostgreSQL schema, as numbered migrations applied in order at start.
//
// Every chat node runs this when it starts; an advisory lock makes the
// nodes take turns, so one applies a migration and the others find it done.
// A database migrated by a newer chat-host (a version above the newest here)
// is refused before anything is written: this binary does not know what the
// newer version's tables mean.
#include "store/postgres_schema.hpp"

#include <string>
#include <vector>

namespace chat::store::pg {
namespace {

// Append only: a migration that shipped is never edited, a change is a new one.
const std::vector<const char*>& migrations() {
  static const std::vector<const char*> list = {
      // 1: messages, room counters, senders.
      R"sql(
CREATE TABLE messages (
  room_id      text   NOT NULL,
  sequence     bigint NOT NULL,
  sender_id    text   NOT NULL,
  client_id    text   NOT NULL,
  content      text   NOT NULL,
  timestamp_ms bigint NOT NULL,
  PRIMARY KEY (room_id, sequence)
);
CREATE INDEX messages_by_sender ON messages (room_id, sender_id, sequence);
CREATE INDEX messages_by_client_id ON messages (room_id, sender_id, client_id);
CREATE INDEX messages_by_time ON messages (timestamp_ms);
-- Each room's newest sequence ever assigned: outlives its messages. A
-- commit holds its room's row lock from numbering to COMMIT, so sequences
-- are assigned in commit order, with no gap, whichever node commits.
CREATE TABLE rooms (
  room_id       text   NOT NULL PRIMARY KEY,
  last_sequence bigint NOT NULL
);
-- Everyone who ever sent a message: outlives their messages too.
CREATE TABLE senders (
  sender_id text NOT NULL PRIMARY KEY
);
)sql",
      // 2: presence across nodes. Each node holds a lease it renews; the
      // users it has in a room are present until it leaves them or its
      // lease runs out (it died), whichever comes first.
      R"sql(
CREATE TABLE chat_nodes (
  node_id     text        NOT NULL PRIMARY KEY,
  lease_until timestamptz NOT NULL
);
CREATE TABLE presence (
  room_id text NOT NULL,
  user_id text NOT NULL,
  node_id text NOT NULL,
  PRIMARY KEY (room_id, user_id, node_id)
);
CREATE INDEX presence_by_node ON presence (node_id);
)sql",
  };
  return list;
}

// Any constant will do, so long as no other program on the same database
// takes the same advisory lock: "chat" in ASCII.
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(1667785076)";

}  // namespace

int newest_schema_version() { return static_cast<int>(migrations().size()); }

int migrate(const Connection& db) {
  db.exec("BEGIN", "starting the schema transaction");
  try {
    db.exec(kLock, "waiting for other chat nodes to finish migrating");
    Result exists(PQexec(db.get(), "SELECT to_regclass('chat_schema_migrations') IS NOT NULL"));
    check(db.get(), exists.get(), "reading the schema version");
    int version = 0;
    if (text(exists.get(), 0, 0) == "t") {
      Result current(PQexec(db.get(), "SELECT coalesce(max(version), 0) FROM chat_schema_migrations"));
      check(db.get(), current.get(), "reading the schema version");
      version = static_cast<int>(int64(current.get(), 0, 0));
    }
    if (version > newest_schema_version()) {
      throw StoreError("postgres: the database has schema version " + std::to_string(version) +
                       ", newer than this chat-host's " + std::to_string(newest_schema_version()) +
                       ": a newer chat-host migrated it. Run that version (or newer); nothing was written");
    }
    if (version == 0) {
      db.exec(
          "CREATE TABLE chat_schema_migrations ("
          " version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
          "creating the migrations table");
    }
    for (int next = version + 1; next <= newest_schema_version(); ++next) {
      db.exec(migrations()[static_cast<std::size_t>(next - 1)],
              "applying schema migration " + std::to_string(next));
      db.run("INSERT INTO chat_schema_migrations (version) VALUES ($1)", Params().add(std::int64_t{next}),
             "recording schema migration " + std::to_string(next));
    }
    db.exec("COMMIT", "committing the schema");
    return version;
  } catch (...) {
    Result rollback(PQexec(db.get(), "ROLLBACK"));
    throw;
  }
}

}  // namespace chat::store::pg
