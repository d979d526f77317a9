// A libpq connection as PostgresStore uses it: opened from a connection URI,
// its statements prepared once, and each failure a StoreError that says what
// was being done (never the URI: it may hold the password).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/history_store.hpp"

namespace chat::store::pg {

struct ResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

// Text parameters of one statement. Strings are referenced, not copied: they
// must outlive the call that sends them.
class Params {
 public:
  Params& add(const std::string& text) {
    values_.push_back(text.c_str());
    return *this;
  }
  Params& add(std::int64_t number) {
    owned_.push_back(std::to_string(number));
    values_.push_back(owned_.back().c_str());
    return *this;
  }
  int size() const { return static_cast<int>(values_.size()); }
  const char* const* values() const { return values_.data(); }

 private:
  std::deque<std::string> owned_;  // a deque: adding never moves the strings already in it
  std::vector<const char*> values_;
};

// A named statement, prepared on every connection that uses it.
struct Statement {
  const char* name;
  const char* sql;
};

class Connection {
 public:
  Connection() = default;
  // Connects and prepares `statements`. `role` names the connection in
  // pg_stat_activity (application_name) and in errors.
  Connection(const std::string& url, std::string role, std::vector<Statement> statements);

  PGconn* get() const { return conn_.get(); }
  bool broken() const { return !conn_ || PQstatus(conn_.get()) != CONNECTION_OK; }
  // Connects again when broken (the server restarted, a standby was
  // promoted): throws StoreError while it cannot.
  void ensure_connected();

  // SQL without parameters, one or several statements; throws on failure.
  void exec(const char* sql, std::string_view what) const;
  // One prepared statement; its rows. Throws on failure.
  Result run(const Statement& statement, const Params& params, std::string_view what) const;
  Result run(const char* sql, const Params& params, std::string_view what) const;

  // Pipeline mode: send several statements, then read each result in order.
  void send(const Statement& statement, const Params& params, std::string_view what) const;
  void send(const char* sql, std::string_view what) const;
  void sync() const;
  // The next statement's result; throws (naming `what`) on an error.
  Result next(std::string_view what) const;
  // Reads up to and including the sync, dropping what is left (after an error).
  void drain() const;
  void enter_pipeline() const;
  void exit_pipeline() const;

  // Where this connection goes, without the password: "user@host:port/db".
  std::string describe() const;
  // The name of notification channel `base` for the schema this connection
  // works in. LISTEN/NOTIFY channels are shared by the whole database: two
  // deployments in two schemas of one database must not hear each other's
  // commits and presence. In schema public it is `base` itself; in another,
  // `base` and a hash of the schema's name (a channel name holds 63 bytes).
  std::string channel(std::string_view base) const;
  [[noreturn]] void fail(std::string_view what) const;

 private:
  struct ConnFree {
    void operator()(PGconn* conn) const { PQfinish(conn); }
  };
  void open();

  std::string url_;
  std::string role_;
  std::string schema_;  // current_schema(), read on connecting
  std::vector<Statement> statements_;
  std::unique_ptr<PGconn, ConnFree> conn_;
};

// Throws a StoreError for a failed result (or none), naming `what`.
void check(PGconn* conn, const PGresult* result, std::string_view what);

std::int64_t int64(const PGresult* result, int row, int column);
std::string text(const PGresult* result, int row, int column);

// The sqlstate of an error's result ("40P01": deadlock...), empty when none.
std::string sqlstate(const PGresult* result);

}  // namespace chat::store::pg
