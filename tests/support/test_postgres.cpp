#include "support/test_postgres.hpp"

#include "support/test_helpers.hpp"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>

#ifndef CHATHOST_TEST_POSTGRES_DIR
#error "chat_test_support needs CHATHOST_TEST_POSTGRES_DIR: where ctest's postgres fixture keeps its server"
#endif

namespace chathost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string read_first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// A shell word: single-quoted.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

fs::path fresh_dir() {
  // Under /tmp itself: as root, the server runs as `postgres`, which must
  // reach its folder (a test's temp folder may sit in one only root enters).
  std::random_device random;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path dir = fs::path("/tmp") / ("chathost-pg-" + std::to_string(::getpid()) + "-" + std::to_string(random()));
    if (!fs::exists(dir)) return dir;
  }
  throw std::runtime_error("no fresh folder for a PostgreSQL server under /tmp");
}

}  // namespace

std::string postgres_query(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to the test PostgreSQL: " + error);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "drop cascades to...": not news
  PGresult* result = PQexec(conn, sql.c_str());
  const auto status = PQresultStatus(result);
  std::string value;
  if (status == PGRES_TUPLES_OK && PQntuples(result) > 0 && PQnfields(result) > 0) {
    value = PQgetvalue(result, 0, 0);
  }
  std::string error = (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) ? "" : PQresultErrorMessage(result);
  PQclear(result);
  PQfinish(conn);
  if (!error.empty()) throw std::runtime_error("test PostgreSQL: " + sql + ": " + error);
  return value;
}

PostgresServer::PostgresServer(fs::path dir, bool owned) : dir_(std::move(dir)), owned_(owned) {}

std::unique_ptr<PostgresServer> PostgresServer::start_private() {
  std::unique_ptr<PostgresServer> server(new PostgresServer(fresh_dir(), true));
  server->start();
  return server;
}

PostgresServer& PostgresServer::shared() {
  static std::once_flag once;
  static std::unique_ptr<PostgresServer> server;
  std::call_once(once, [] {
    // ctest's fixture started one for the whole run: use it, leave it running.
    const fs::path dir = CHATHOST_TEST_POSTGRES_DIR;
    if (fs::exists(dir / "port") && fs::exists(dir / "data" / "postmaster.pid")) {
      server.reset(new PostgresServer(dir, false));
      server->port_ = static_cast<std::uint16_t>(std::stoi(read_first_line(dir / "port")));
      server->password_ = read_first_line(dir / "password");
      if (can_connect("127.0.0.1", server->port_, 2s)) return;
    }
    server = start_private();
  });
  return *server;
}

PostgresServer::~PostgresServer() {
  if (!owned_) return;
  try {
    stop();
  } catch (...) {  // the folder goes anyway
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string PostgresServer::script(const std::string& arguments) const {
  const std::string command =
      quoted((source_dir() / "scripts" / "throwaway-postgres.sh").string()) + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string output;
  std::array<char, 512> buffer{};
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) output += buffer.data();
  const int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error(command + " failed:\n" + output);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output;
}

void PostgresServer::start() {
  const std::string port = port_ == 0 ? "" : " " + std::to_string(port_);
  // Just after a kill, the old server's processes may still hold its shared
  // memory for a moment: try again.
  for (int attempt = 0;; ++attempt) {
    try {
      script("start " + quoted(dir_.string()) + port);
      break;
    } catch (const std::runtime_error&) {
      if (attempt >= 20) throw;
      std::this_thread::sleep_for(250ms);
    }
  }
  port_ = static_cast<std::uint16_t>(std::stoi(read_first_line(dir_ / "port")));
  password_ = read_first_line(dir_ / "password");
}

void PostgresServer::stop() { script("stop " + quoted(dir_.string())); }

pid_t PostgresServer::pid() const {
  const auto line = read_first_line(dir_ / "data" / "postmaster.pid");
  if (line.empty()) return 0;
  const pid_t pid = static_cast<pid_t>(std::stol(line));
  return ::kill(pid, 0) == 0 ? pid : 0;
}

void PostgresServer::kill() {
  const pid_t server = pid();
  if (server == 0) return;
  ::kill(server, SIGKILL);
  for (int i = 0; i < 200 && ::kill(server, 0) == 0; ++i) std::this_thread::sleep_for(25ms);
}

std::unique_ptr<PostgresServer> PostgresServer::start_standby(const fs::path& dir) {
  std::unique_ptr<PostgresServer> standby(new PostgresServer(dir, true));
  script("standby " + quoted(dir.string()) + " " + quoted(dir_.string()));
  standby->port_ = static_cast<std::uint16_t>(std::stoi(read_first_line(dir / "port")));
  standby->password_ = read_first_line(dir / "password");
  return standby;
}

void PostgresServer::promote() { script("promote " + quoted(dir_.string())); }

std::string PostgresServer::url() const {
  return "postgresql://chat:" + password_ + "@127.0.0.1:" + std::to_string(port_) + "/chat";
}

TestDatabase::TestDatabase(const PostgresServer& server) : server_(server) {
  static std::atomic<int> counter{0};
  std::random_device random;
  schema_ = "test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 100000);
  postgres_query(server_.url(), "CREATE SCHEMA " + schema_);
  url_ = server_.url() + "?options=-csearch_path%3D" + schema_;
}

TestDatabase::~TestDatabase() {
  try {
    postgres_query(server_.url(), "DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  } catch (...) {  // a test that stopped the server: the schema goes with it
  }
}

std::string TestDatabase::query(const std::string& sql) const { return postgres_query(url_, sql); }

}  // namespace chathost::test
