// One chat-host process for an integration test: writes its config from
// TOML tables, starts it with the plugins asked for, and reads every
// plugin's address from its "ready" line. Its environment is the test's
// without any variable the host reads (host_variables.hpp), plus `env`.
//
//   TestHost host(dir.path(), {.plugins = {"grpc-chat", "ws-proxy"},
//                              .tables = chat_table() + proxy_table()});
//   WsClient alice({.port = host.port("ws-proxy"), .target = "/?user=alice"});
//
// On destruction a host still running is stopped with SIGTERM and must exit
// 0 (under the sanitizers that also means: no leak, no error at exit).
// A stopped or killed host starts again, on the same config, with start().
#pragma once

#include "support/host_process.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chathost::test {

struct TestHostOptions {
  std::string name = "host";            // its directory under the test's
  std::vector<std::string> plugins{};   // [host] plugins, in start order
  std::string tables{};                 // the plugins' tables (and any other TOML after [host])
  std::string host_keys{};              // more keys of [host]
  std::vector<std::string> args{};      // more command-line arguments, e.g. "--insecure"
  std::map<std::string, std::string> env{};
  // Set: run on this config file as it is (the shipped one, say) instead
  // of one written from plugins, tables and host_keys.
  std::filesystem::path config_file{};
  std::optional<std::uint64_t> open_files_limit{};  // ProcessOptions::open_files_limit
  std::optional<std::uint64_t> file_size_limit{};   // ProcessOptions::file_size_limit
  // false: the host is expected to exit before it is ready (a refused
  // config); construction then waits for the exit instead.
  bool expect_ready = true;
};

// Where a plugin listens, as the ready line says: "ws-proxy ws://127.0.0.1:8080".
struct Endpoint {
  std::string scheme;
  std::string host;
  std::uint16_t port = 0;
};

// Whether a host that exited with `code` (nullopt: still running) stopped
// cleanly: 0, or the one sanitizer crash at exit that is not ours (see the
// .cpp). The failure names the host and carries its output.
::testing::AssertionResult clean_exit(const std::optional<int>& code, const HostProcess& process,
                                      const std::string& name);

class TestHost {
 public:
  // Starts the host; throws std::runtime_error with its output when it is
  // not ready in time (or, with expect_ready = false, still runs).
  TestHost(const std::filesystem::path& dir, TestHostOptions options);
  ~TestHost();
  TestHost(const TestHost&) = delete;
  TestHost& operator=(const TestHost&) = delete;

  HostProcess& process() { return *process_; }
  std::string output() const { return process_->output(); }
  const std::filesystem::path& dir() const { return dir_; }

  // The address of `plugin` from the ready line; throws if it has none.
  const Endpoint& endpoint(std::string_view plugin) const;
  std::uint16_t port(std::string_view plugin) const { return endpoint(plugin).port; }

  // Starts the host again after it stopped or was killed (same config and
  // directory: a store, a fixed port). A fixed port that a connection of the
  // previous run still holds (TIME_WAIT) is tried again for a while.
  void start();
  // SIGTERM and the exit code (nullopt if it still runs after 30 s).
  std::optional<int> stop();
  // SIGTERM, then exit code 0 (see stop_cleanly in the .cpp for the one
  // sanitizer exception).
  ::testing::AssertionResult stop_cleanly();
  // SIGKILL: a crash, no goodbye to anyone.
  void kill();

 private:
  void read_endpoints(const std::string& described);

  std::filesystem::path dir_;
  TestHostOptions options_;
  std::unique_ptr<HostProcess> process_;
  std::map<std::string, Endpoint, std::less<>> endpoints_;
};

// chat-host started in `dir` on the config `toml` (written to <dir>/bad.toml:
// for a config the test expects refused), with `env` and without the
// variables the host reads (host_variables.hpp) otherwise.
std::unique_ptr<HostProcess> start_on_bad_config(const std::filesystem::path& dir, const std::string& toml,
                                                 std::map<std::string, std::string> env = {});

// A plugin's table (config_tables.hpp) for a grpc-chat at chat_port.
using PluginTable = std::string (*)(std::uint16_t chat_port, const std::string& extra);

// One host running grpc-chat (grpc_chat_table on a free port) and `plugin`,
// whose table `plugin_table` makes with `plugin_extra` for that port.
std::unique_ptr<TestHost> host_beside_chat_service(const std::filesystem::path& dir, const std::string& plugin,
                                                   PluginTable plugin_table, const std::string& plugin_extra = "");

// A host stopped with SIGSTOP, as a hung machine or a link gone silent
// looks to its peers: its sockets stay open and the kernel still acks, but
// nothing answers. Thawed (SIGCONT) by thaw(), or at the latest on
// destruction, so that a failed test still stops the host cleanly.
class Frozen {
 public:
  explicit Frozen(TestHost& host);
  ~Frozen() { thaw(); }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;
  void thaw();

 private:
  TestHost& host_;
  bool thawed_ = false;
};

}  // namespace chathost::test
