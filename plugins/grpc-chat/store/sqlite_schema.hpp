// SQLite's side of the durable store: the schema, and the statements each
// kind of connection prepares once (the writer's and a reader's). SqliteStore
// (sqlite_store.cpp) runs them.
#pragma once

#include "store/history_store.hpp"
#include "store/sqlite_handle.hpp"

#include <cstddef>
#include <string>

namespace chat::store::sqlite {

inline constexpr int kBusyTimeoutMs = 5000;
inline constexpr std::size_t kInsertColumns = 6;
inline constexpr std::size_t kInsertChunk = 32;  // rows per multi-row INSERT

// `synchronous` ("full" or "normal", any case) as its PRAGMA.
std::string synchronous_pragma(const std::string& synchronous);
// Puts `db` in WAL mode, or says why it cannot be.
void set_wal(const Connection& db);
// Creates the schema, or checks that the one there is not newer than ours.
void create_schema(const Connection& db);
// A row of a `kColumns` SELECT, in `room_id`.
StoredMessage read_message(const Statement::Use& row, const std::string& room_id);

// The one writer connection and its statements.
struct Writer {
  // Prepares the statements on `db`, once it is open and has the schema.
  void prepare();
  Connection db;  // first: closed after its statements
  Statement begin, commit, rollback, data_version;
  Statement load_room, find, insert_message, insert_chunk, upsert_room, insert_sender;
  Statement rooms_above, trim_room, delete_older;
};

// A reader connection of the pool, read-only, and its statements.
struct Reader {
  explicit Reader(const std::string& file);
  Connection db;  // first: closed after its statements
  Statement forwards, backwards, forwards_by_sender, backwards_by_sender, bounds, find, senders, room_senders;
};

}  // namespace chat::store::sqlite
