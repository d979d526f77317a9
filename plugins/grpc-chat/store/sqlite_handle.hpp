// Private to the store: small RAII owners of SQLite handles that turn every
// SQLite failure into a StoreError carrying SQLite's own message.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "store/history_store.hpp"

namespace chat::store::sqlite {

// Builds the error before anything else runs on the connection, since the
// next call (a ROLLBACK, say) replaces sqlite3_errmsg().
[[noreturn]] inline void fail(sqlite3* db, int rc, std::string_view what) {
  std::string message = "sqlite: ";
  message += what;
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  message += " (code " + std::to_string(rc) + ")";
  throw StoreError(message);
}

// Sequences and limits are unsigned in the API, INTEGER (int64) in SQLite.
inline std::int64_t clamp_to_int64(std::uint64_t value) {
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(value > max ? max : value);
}

// Owns one connection. Its statements are declared after it wherever both
// are members, so they are finalized before it closes.
class Connection {
 public:
  Connection() = default;
  Connection(const std::string& path, int flags, std::string_view what) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      std::string message = "sqlite: " + std::string(what) + " " + path + ": " +
                            (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + " (code " + std::to_string(rc) +
                            ")";
      sqlite3_close_v2(db);  // a handle may exist even when the open failed
      throw StoreError(message);
    }
    db_ = db;
    sqlite3_extended_result_codes(db_, 1);
  }
  ~Connection() { sqlite3_close_v2(db_); }
  Connection(Connection&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Connection& operator=(Connection&& other) noexcept {
    if (this != &other) {
      sqlite3_close_v2(db_);
      db_ = std::exchange(other.db_, nullptr);
    }
    return *this;
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }

  // For statements run once (setup); everything repeated is a Statement.
  void exec(const char* sql, std::string_view what) const {
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) fail(db_, rc, what);
  }

 private:
  sqlite3* db_ = nullptr;
};

// A prepared statement, prepared once and reused: run it through a Use,
// which resets it (releasing its read snapshot) and clears its bindings.
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql, const char* what) : what_(what) {
    const int rc =
        sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) fail(db, rc, std::string("preparing ") + what);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(Statement&& other) noexcept
      : stmt_(std::exchange(other.stmt_, nullptr)), what_(std::exchange(other.what_, "")) {}
  Statement& operator=(Statement&& other) noexcept {
    if (this != &other) {
      sqlite3_finalize(stmt_);
      stmt_ = std::exchange(other.stmt_, nullptr);
      what_ = std::exchange(other.what_, "");
    }
    return *this;
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  class Use {
   public:
    explicit Use(Statement& statement) : s_(statement) {}
    ~Use() {
      sqlite3_reset(s_.stmt_);
      sqlite3_clear_bindings(s_.stmt_);
    }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

    // Text is bound without a copy: it must outlive the step() calls.
    Use& bind(int index, std::string_view text) {
      check(sqlite3_bind_text64(s_.stmt_, index, text.data(), static_cast<sqlite3_uint64>(text.size()), SQLITE_STATIC,
                                SQLITE_UTF8));
      return *this;
    }
    Use& bind(int index, std::int64_t value) {
      check(sqlite3_bind_int64(s_.stmt_, index, value));
      return *this;
    }

    // true: a row is ready; false: done.
    bool step() {
      const int rc = sqlite3_step(s_.stmt_);
      if (rc == SQLITE_ROW) return true;
      if (rc == SQLITE_DONE) return false;
      fail(sqlite3_db_handle(s_.stmt_), rc, s_.what_);
    }
    void run() {
      while (step()) {
      }
    }

    std::int64_t int64(int column) const { return sqlite3_column_int64(s_.stmt_, column); }
    bool is_null(int column) const { return sqlite3_column_type(s_.stmt_, column) == SQLITE_NULL; }
    std::string text(int column) const {
      const unsigned char* data = sqlite3_column_text(s_.stmt_, column);
      if (data == nullptr) return {};
      const int size = sqlite3_column_bytes(s_.stmt_, column);
      return {reinterpret_cast<const char*>(data), static_cast<std::size_t>(size)};
    }

   private:
    void check(int rc) const {
      if (rc != SQLITE_OK) fail(sqlite3_db_handle(s_.stmt_), rc, std::string("binding ") + s_.what_);
    }
    Statement& s_;
  };

  Use use() { return Use(*this); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  const char* what_ = "";
};

}  // namespace chat::store::sqlite
