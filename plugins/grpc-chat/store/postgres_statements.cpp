#include "store/postgres_statements.hpp"

namespace chat::store::pg {
namespace {

std::string insert_sql(std::size_t rows) {
  std::string sql = "INSERT INTO messages (room_id, sequence, sender_id, client_id, content, timestamp_ms) VALUES ";
  for (std::size_t row = 0; row < rows; ++row) {
    sql += row == 0 ? "(" : ", (";
    for (std::size_t column = 1; column <= 6; ++column) {
      if (column > 1) sql += ", ";
      sql += "$" + std::to_string(row * 6 + column);
    }
    sql += ")";
  }
  return sql;
}

const std::string& insert_one_sql() {
  static const std::string sql = insert_sql(1);
  return sql;
}
const std::string& insert_chunk_sql() {
  static const std::string sql = insert_sql(kInsertChunk);
  return sql;
}

}  // namespace

namespace statements {

#define CHAT_COLUMNS "SELECT sequence, sender_id, client_id, content, timestamp_ms FROM messages "

const Statement kLockRoom{"lock_room", "SELECT last_sequence FROM rooms WHERE room_id = $1 FOR UPDATE"};
const Statement kAddRoom{"add_room", "INSERT INTO rooms (room_id, last_sequence) VALUES ($1, 0) ON CONFLICT DO NOTHING"};
const Statement kSetRoom{"set_room", "UPDATE rooms SET last_sequence = $2 WHERE room_id = $1"};
const Statement kAddSender{"add_sender", "INSERT INTO senders (sender_id) VALUES ($1) ON CONFLICT DO NOTHING"};
const Statement kNotify{"notify", "SELECT pg_notify($1, $2)"};  // channel (pg::kCommitChannel's), payload
const Statement kFind{"find", CHAT_COLUMNS
                      "WHERE room_id = $1 AND sender_id = $2 AND client_id = $3 ORDER BY sequence LIMIT 1"};
const Statement kForwards{"forwards", CHAT_COLUMNS
                          "WHERE room_id = $1 AND sequence > $2 AND sequence < $3 ORDER BY sequence ASC LIMIT $4"};
const Statement kBackwards{"backwards", CHAT_COLUMNS
                           "WHERE room_id = $1 AND sequence > $2 AND sequence < $3 ORDER BY sequence DESC LIMIT $4"};
const Statement kForwardsBySender{"forwards_by_sender",
                                  CHAT_COLUMNS
                                  "WHERE room_id = $1 AND sender_id = $5 AND sequence > $2 AND sequence < $3 "
                                  "ORDER BY sequence ASC LIMIT $4"};
const Statement kBackwardsBySender{"backwards_by_sender",
                                   CHAT_COLUMNS
                                   "WHERE room_id = $1 AND sender_id = $5 AND sequence > $2 AND sequence < $3 "
                                   "ORDER BY sequence DESC LIMIT $4"};
// One statement, so both values come from the same snapshot.
const Statement kBounds{"bounds",
                        "SELECT (SELECT min(sequence) FROM messages WHERE room_id = $1),"
                        " (SELECT last_sequence FROM rooms WHERE room_id = $1)"};
const Statement kSenders{"senders", "SELECT sender_id FROM senders ORDER BY sender_id"};
// One index seek per sender (messages_by_sender), not a read of the room.
const Statement kRoomSenders{"room_senders",
                             "WITH RECURSIVE s(sender_id, n) AS ("
                             " SELECT (SELECT MIN(sender_id) FROM messages WHERE room_id = $1), 1"
                             " UNION ALL SELECT (SELECT MIN(sender_id) FROM messages WHERE room_id = $1 AND sender_id > s.sender_id), n + 1"
                             " FROM s WHERE s.sender_id IS NOT NULL AND n < $2::int)"
                             " SELECT sender_id FROM s WHERE sender_id IS NOT NULL"};
// Users present through other nodes whose lease still runs.
const Statement kPresentElsewhere{"present_elsewhere",
                                  "SELECT p.user_id, p.node_id FROM presence p JOIN chat_nodes n USING (node_id)"
                                  " WHERE p.room_id = $1 AND p.node_id <> $2 AND n.lease_until > now()"};

#undef CHAT_COLUMNS

const Statement kInsertOne{"insert_one", insert_one_sql().c_str()};
const Statement kInsertChunk_{"insert_chunk", insert_chunk_sql().c_str()};

}  // namespace statements

using namespace statements;

void add_insert_row(Params& params, const StoredMessage& row) {
  params.add(row.room_id)
      .add(static_cast<std::int64_t>(row.sequence))
      .add(row.sender_id)
      .add(row.client_id)
      .add(row.content)
      .add(row.timestamp_ms);
}

StoredMessage read_message(const PGresult* rows, int row, const std::string& room_id) {
  StoredMessage message;
  message.room_id = room_id;
  message.sequence = static_cast<std::uint64_t>(pg::int64(rows, row, 0));
  message.sender_id = pg::text(rows, row, 1);
  message.client_id = pg::text(rows, row, 2);
  message.content = pg::text(rows, row, 3);
  message.timestamp_ms = pg::int64(rows, row, 4);
  return message;
}

std::vector<Statement> writer_statements() {
  return {kLockRoom, kAddRoom, kSetRoom, kAddSender, kNotify, kFind, kInsertOne, kInsertChunk_};
}
std::vector<Statement> reader_statements() {
  return {kFind,   kForwards, kBackwards,   kForwardsBySender, kBackwardsBySender,
          kBounds, kSenders,  kRoomSenders, kPresentElsewhere};
}

}  // namespace chat::store::pg
