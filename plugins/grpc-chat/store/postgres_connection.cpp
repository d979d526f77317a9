#include "store/postgres_connection.hpp"

#include <cstdint>
#include <cstdio>

#include <charconv>
#include <utility>

namespace chat::store::pg {
namespace {

// libpq's messages end with a newline and may run over several lines.
std::string one_line(const char* message) {
  std::string line = message == nullptr ? "" : message;
  while (!line.empty() && (line.back() == '\n' || line.back() == ' ')) line.pop_back();
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  return line.empty() ? "unknown error" : line;
}

}  // namespace

Connection::Connection(const std::string& url, std::string role, std::vector<Statement> statements)
    : url_(url), role_(std::move(role)), statements_(std::move(statements)) {
  open();
}

void Connection::open() {
  // The URI is the user's; application_name is added as a separate keyword
  // so that a URI with its own options still parses as written.
  const char* keywords[] = {"dbname", "application_name", "connect_timeout", nullptr};
  const char* values[] = {url_.c_str(), role_.c_str(), "10", nullptr};
  conn_.reset(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  if (conn_ == nullptr) throw StoreError("postgres: out of memory connecting");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw StoreError("postgres: cannot connect (" + role_ + "): " + one_line(PQerrorMessage(conn_.get())));
  }
  // Notices ("...does not exist, skipping") would go to stderr, around the
  // host's log: the store reports what matters through its errors.
  PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
  // Every acknowledgement means committed (and, with a synchronous standby,
  // on the standby too), whatever the server's default.
  exec("SET synchronous_commit = on", "setting synchronous_commit");
  // A node that stops between the statements of a transaction (it hangs, its
  // machine freezes) would hold its rooms' row locks, and every other node
  // would wait on them: the database ends such a session after a few
  // seconds, which frees them. That node's commit then fails and is never
  // acknowledged. No transaction of ours waits on its client that long.
  exec("SET idle_in_transaction_session_timeout = '5s'", "setting idle_in_transaction_session_timeout");
  {
    Result schema(PQexec(conn_.get(), "SELECT current_schema()"));
    check(conn_.get(), schema.get(), "reading the current schema");
    schema_ = PQntuples(schema.get()) == 1 && !PQgetisnull(schema.get(), 0, 0) ? PQgetvalue(schema.get(), 0, 0) : "";
  }
  for (const Statement& statement : statements_) {
    Result result(PQprepare(conn_.get(), statement.name, statement.sql, 0, nullptr));
    check(conn_.get(), result.get(), std::string("preparing ") + statement.name);
  }
}

std::string Connection::channel(std::string_view base) const {
  if (schema_.empty() || schema_ == "public") return std::string(base);
  // FNV-1a, 64 bits: the same on every node and every build.
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char byte : schema_) {
    hash ^= byte;
    hash *= 1099511628211ULL;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return std::string(base) + "_" + hex;
}

void Connection::ensure_connected() {
  if (!broken()) return;
  conn_.reset();
  open();
}

void Connection::exec(const char* sql, std::string_view what) const {
  Result result(PQexec(conn_.get(), sql));
  check(conn_.get(), result.get(), what);
}

Result Connection::run(const Statement& statement, const Params& params, std::string_view what) const {
  Result result(
      PQexecPrepared(conn_.get(), statement.name, params.size(), params.values(), nullptr, nullptr, /*text*/ 0));
  check(conn_.get(), result.get(), what);
  return result;
}

Result Connection::run(const char* sql, const Params& params, std::string_view what) const {
  Result result(PQexecParams(conn_.get(), sql, params.size(), nullptr, params.values(), nullptr, nullptr, 0));
  check(conn_.get(), result.get(), what);
  return result;
}

void Connection::send(const Statement& statement, const Params& params, std::string_view what) const {
  if (PQsendQueryPrepared(conn_.get(), statement.name, params.size(), params.values(), nullptr, nullptr, 0) != 1) {
    fail(what);
  }
}

void Connection::send(const char* sql, std::string_view what) const {
  if (PQsendQueryParams(conn_.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) fail(what);
}

void Connection::sync() const {
  if (PQpipelineSync(conn_.get()) != 1) fail("sending a pipeline");
}

Result Connection::next(std::string_view what) const {
  Result result(PQgetResult(conn_.get()));
  check(conn_.get(), result.get(), what);
  // Each statement's result is followed by a null that ends it.
  Result end(PQgetResult(conn_.get()));
  return result;
}

void Connection::drain() const {
  if (broken()) return;
  for (int nulls = 0; nulls < 2;) {
    Result result(PQgetResult(conn_.get()));
    if (result == nullptr) {
      // Two nulls in a row: nothing more is coming (the connection broke).
      ++nulls;
      continue;
    }
    nulls = 0;
    if (PQresultStatus(result.get()) == PGRES_PIPELINE_SYNC) return;
  }
}

void Connection::enter_pipeline() const {
  if (PQenterPipelineMode(conn_.get()) != 1) fail("entering pipeline mode");
}

void Connection::exit_pipeline() const {
  if (PQpipelineStatus(conn_.get()) == PQ_PIPELINE_OFF) return;
  drain();
  PQexitPipelineMode(conn_.get());
}

std::string Connection::describe() const {
  if (!conn_) return role_;
  const char* host = PQhost(conn_.get());
  const char* port = PQport(conn_.get());
  const char* db = PQdb(conn_.get());
  const char* user = PQuser(conn_.get());
  return std::string(user ? user : "?") + "@" + (host ? host : "?") + ":" + (port ? port : "?") + "/" + (db ? db : "?");
}

void Connection::fail(std::string_view what) const {
  throw StoreError("postgres: " + std::string(what) + " (" + role_ + "): " + one_line(PQerrorMessage(conn_.get())));
}

void check(PGconn* conn, const PGresult* result, std::string_view what) {
  if (result == nullptr) {
    throw StoreError("postgres: " + std::string(what) + ": " + one_line(PQerrorMessage(conn)));
  }
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_PIPELINE_SYNC:
      return;
    case PGRES_PIPELINE_ABORTED:
      throw StoreError("postgres: " + std::string(what) + ": skipped after an earlier error in its transaction");
    default:
      throw StoreError("postgres: " + std::string(what) + ": " + one_line(PQresultErrorMessage(result)));
  }
}

std::int64_t int64(const PGresult* result, int row, int column) {
  const char* value = PQgetvalue(result, row, column);
  const int length = PQgetlength(result, row, column);
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(value, value + length, number);
  if (error != std::errc() || end != value + length) {
    throw StoreError("postgres: expected a number, got \"" + std::string(value, static_cast<std::size_t>(length)) +
                     "\"");
  }
  return number;
}

std::string text(const PGresult* result, int row, int column) {
  return std::string(PQgetvalue(result, row, column), static_cast<std::size_t>(PQgetlength(result, row, column)));
}

std::string sqlstate(const PGresult* result) {
  const char* state = result == nullptr ? nullptr : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state == nullptr ? "" : state;
}

}  // namespace chat::store::pg
