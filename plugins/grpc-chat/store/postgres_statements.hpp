// The PostgreSQL store's statements, prepared by name on every connection:
// the writer's (sequences, inserts, notifications) and the readers' (history
// pages, bounds, senders, presence), and how a row of messages is read.
#pragma once

#include "store/history_store.hpp"
#include "store/postgres_connection.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace chat::store::pg {

inline constexpr std::size_t kInsertChunk = 32;  // rows per multi-row INSERT

namespace statements {
extern const Statement kLockRoom;
extern const Statement kAddRoom;
extern const Statement kSetRoom;
extern const Statement kAddSender;
extern const Statement kNotify;
extern const Statement kFind;
extern const Statement kForwards;
extern const Statement kBackwards;
extern const Statement kForwardsBySender;
extern const Statement kBackwardsBySender;
extern const Statement kBounds;
extern const Statement kSenders;
extern const Statement kRoomSenders;
extern const Statement kPresentElsewhere;
extern const Statement kInsertOne;
extern const Statement kInsertChunk_;
}  // namespace statements

// What each kind of connection prepares.
std::vector<Statement> writer_statements();
std::vector<Statement> reader_statements();

// One message's parameters of kInsertOne or kInsertChunk_ (six of them, in column order).
void add_insert_row(Params& params, const StoredMessage& row);

// Row `row` of a SELECT of the messages columns, in `room_id`.
StoredMessage read_message(const PGresult* rows, int row, const std::string& room_id);

}  // namespace chat::store::pg
