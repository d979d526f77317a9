// Small helpers for integration tests: where the build put things, free TCP
// ports, a plain TCP client, and files in per-test temporary directories.
#pragma once

#include "support/host_process.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace chathost::test {

// ---------------------------------------------------------------------------
// Build locations (compile definitions of chat_test_support)

std::filesystem::path host_binary();      // CHATHOST_BINARY: the chat-host executable
std::filesystem::path test_plugin_dir();  // CHATHOST_TEST_PLUGIN_DIR: test plugins + example-greeter
std::filesystem::path source_dir();       // CHATHOST_SOURCE_DIR: the project's source tree

// ---------------------------------------------------------------------------
// TCP (IPv4 loopback unless a host is given)

// A port nobody listens on right now: bound to 127.0.0.1:0, read, closed.
// Another process may take it before the test does; never use fixed ports.
std::uint16_t free_tcp_port();

// A socket listening on 127.0.0.1:port (0: any free port) for as long as the
// object lives, e.g. to hold a port some test expects to be in use. It
// accepts nothing. Throws std::system_error if the port cannot be bound.
// `reuse_address` (SO_REUSEADDR) binds despite connections of an earlier
// owner in TIME_WAIT: a check that nobody listens there any more.
class TcpListener {
 public:
  explicit TcpListener(std::uint16_t port = 0, bool reuse_address = false);
  ~TcpListener();
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// Whether a TCP connection to host:port is accepted within `timeout`.
bool can_connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout = 2s);

// Connects, reads up to the first '\n' (or the end of the stream) and returns
// that text without the line ending. nullopt when the connection is refused,
// or nothing arrives within `timeout`.
std::optional<std::string> connect_and_read_line(const std::string& host, std::uint16_t port,
                                                 std::chrono::milliseconds timeout = kDefaultTimeout);

// ---------------------------------------------------------------------------
// Processes

// The resident memory of process `pid` (VmRSS), in bytes; 0 if unreadable.
std::uint64_t resident_bytes(pid_t pid);

// ---------------------------------------------------------------------------
// Files

// Writes `text` to `path` (creating parent directories), replacing the file.
void write_file(const std::filesystem::path& path, std::string_view text);
std::string read_file(const std::filesystem::path& path);

// A new, empty directory under ::testing::TempDir(), named after the running
// test; the caller removes it (or use TempDir).
std::filesystem::path make_temp_dir();

// ---------------------------------------------------------------------------
// Prometheus text (GET /metrics)

// The value of `series` (its name, with its labels when it has any) in an
// exposition; nullopt when absent (a labelled series appears with its
// first count).
std::optional<double> find_metric(const std::string& exposition, const std::string& series);
// The same, 0 when absent.
double metric(const std::string& exposition, const std::string& series);

// make_temp_dir() removed again on destruction, unless the test failed (then
// it is kept for inspection).
class TempDir {
 public:
  TempDir() : path_(make_temp_dir()) {}
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::filesystem::path& name) const { return path_ / name; }
  // write_file of `text` to <dir>/<name>; returns that path.
  std::filesystem::path write(const std::filesystem::path& name, std::string_view text) const {
    write_file(path_ / name, text);
    return path_ / name;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace chathost::test
