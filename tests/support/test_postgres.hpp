// A real PostgreSQL for tests: Debian's server, started by
// scripts/throwaway-postgres.sh (the same helper developers use) into a
// folder of its own, on a free loopback port.
//
// Most tests share one server per build tree (ctest's `postgres` fixture
// starts it; a test binary run by hand starts its own) and each takes a
// schema of its own in it (TestDatabase): fast, and tests never see each
// other's rows. Tests that kill or restart the server start a private one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace chathost::test {

class PostgresServer {
 public:
  // A server of its own in a fresh folder, stopped and removed at the end.
  static std::unique_ptr<PostgresServer> start_private();
  // The server of this build's tests (started by ctest's fixture, or once
  // for this process when there is none).
  static PostgresServer& shared();

  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgresql://chat:<password>@127.0.0.1:<port>/chat
  std::string url() const;
  std::uint16_t port() const { return port_; }
  const std::string& password() const { return password_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Starts it again (after stop() or kill()) on the same port and data.
  void start();
  // A fast shutdown: open sessions are ended, nothing committed is lost.
  void stop();
  // SIGKILL to the server process (the postmaster), as a crash would.
  void kill();
  pid_t pid() const;  // the postmaster's, from its postmaster.pid; 0 when not running

  // A streaming standby of this server in `dir`, synchronous: a commit here
  // waits for it. Owned by the caller.
  std::unique_ptr<PostgresServer> start_standby(const std::filesystem::path& dir);
  // Makes this standby the primary (pg_ctl promote) and waits until it takes writes.
  void promote();

 private:
  PostgresServer(std::filesystem::path dir, bool owned);
  std::string script(const std::string& arguments) const;

  std::filesystem::path dir_;
  bool owned_ = false;  // stop and remove it at the end
  std::uint16_t port_ = 0;
  std::string password_;
};

// A schema of its own in a server's `chat` database, dropped at the end: a
// fresh, empty database as far as chat-host can tell.
class TestDatabase {
 public:
  explicit TestDatabase(const PostgresServer& server = PostgresServer::shared());
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // The server's URL with this schema as the search path: what DATABASE_URL takes.
  const std::string& url() const { return url_; }
  const std::string& schema() const { return schema_; }
  // Runs `sql` in the schema; the first column of the first row ("" when none).
  std::string query(const std::string& sql) const;

 private:
  const PostgresServer& server_;
  std::string schema_;
  std::string url_;
};

// Runs `sql` on the database of `url`; the first column of the first row.
// Throws std::runtime_error on failure.
std::string postgres_query(const std::string& url, const std::string& sql);

}  // namespace chathost::test
