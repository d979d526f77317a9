// Integration tests of the chat-host binary: command line, configuration
// layering, plugin lifecycle, failures and signals. Every test runs the real
// executable in a temporary working directory with its own config file, only
// on ports the kernel just handed out.
#include "support/host_process.hpp"
#include "support/host_variables.hpp"
#include "support/test_helpers.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#ifndef CHATHOST_EXPECTED_VERSION
#error "CHATHOST_EXPECTED_VERSION (the project version) must be defined"
#endif

namespace chathost::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kLoopback = "127.0.0.1";
const std::string kVersion = CHATHOST_EXPECTED_VERSION;


std::string regex_escape(std::string_view text) {
  static const std::string special = R"(\^$.|?*+()[]{})";
  std::string out;
  for (char c : text) {
    if (special.find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

// A log line of `logger` at `level` containing `text` literally, e.g.
//   2026-01-01 12:00:00.000 error [host] unknown plugin 'nope': ...
std::regex log_line(std::string_view level, std::string_view logger, std::string_view text) {
  return std::regex(" " + regex_escape(level) + " +\\[" + regex_escape(logger) + "\\] .*" + regex_escape(text));
}

// The host's ready line, capturing example-greeter's real port.
const std::regex kGreeterReady(R"(info +\[host\] ready in \d+ ms: .*example-greeter tcp://127\.0\.0\.1:(\d+))");

std::uint16_t to_port(const std::string& text) { return static_cast<std::uint16_t>(std::stoul(text)); }

class HostCliTest : public ::testing::Test {
 protected:
  // Starts chat-host in the test's directory with `args` as given.
  std::unique_ptr<HostProcess> spawn(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    return std::make_unique<HostProcess>(ProcessOptions{.executable = host_binary(),
                                                        .args = std::move(args),
                                                        .env = std::move(env),
                                                        .unset_env = host_variables(),
                                                        .working_dir = dir_.path()});
  }

  // Writes `toml` as the config and starts the host on it, with the test
  // plugin directory and any `extra` arguments.
  std::unique_ptr<HostProcess> start(const std::string& toml, std::vector<std::string> extra = {},
                                     std::map<std::string, std::string> env = {}) {
    write_file(config_, toml);
    std::vector<std::string> args{"--config", config_.string(), "--plugin-dir", test_plugin_dir().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return spawn(std::move(args), std::move(env));
  }

  // Waits for example-greeter's ready line and returns its port (0 on failure,
  // after recording the failure with the output).
  static std::uint16_t ready_port(HostProcess& host) {
    auto ready = host.wait_for_line(kGreeterReady);
    EXPECT_TRUE(ready) << "no ready line; output:\n" << host.output();
    return ready ? to_port((*ready)[1]) : 0;
  }

  // Asserts that a line matching `pattern` is printed; returns its index.
  static std::size_t expect_line(HostProcess& host, const std::regex& pattern, std::size_t from = 0,
                                 const std::string& what = "expected line") {
    auto line = host.wait_for_line(pattern, kDefaultTimeout, from);
    EXPECT_TRUE(line) << what << " not found after line " << from << "; output:\n" << host.output();
    return line ? line->index : host.lines().size();
  }

  static void expect_exit(HostProcess& host, int code) {
    const auto status = host.wait_exit();
    ASSERT_TRUE(status) << "host still running after " << kDefaultTimeout.count() << " ms; output:\n" << host.output();
    EXPECT_EQ(*status, code) << "output:\n" << host.output();
  }

  // The whole check for a host that must refuse to run: exit 1, `message` in
  // an error line of [host], nothing listening on `port` (if given).
  // Returns the error line.
  std::string expect_start_failure(const std::string& toml, const std::string& message,
                                   std::vector<std::string> extra = {}, std::map<std::string, std::string> env = {},
                                   std::uint16_t port = 0) {
    auto host = start(toml, std::move(extra), std::move(env));
    expect_exit(*host, 1);
    auto line = host->wait_for_line(log_line("error", "host", message), 0ms);
    EXPECT_TRUE(line) << "expected an error line with: " << message << "\noutput:\n" << host->output();
    EXPECT_THAT(host->output(), Not(HasSubstr("[host] ready in"))) << "the host must not have become ready";
    if (port != 0) {
      EXPECT_FALSE(can_connect(kLoopback, port)) << "port " << port << " left open";
    }
    return line ? line->line : std::string();
  }

  // expect_start_failure of example-greeter started with --env-file `env_file`.
  void expect_greeter_refused_with_env_file(const std::filesystem::path& env_file, const std::string& message) {
    expect_start_failure(greeter_config(0), message, {"--env-file", env_file.string()});
  }

  static std::string greeter_config(long port, const std::string& host_extra = "") {
    return "[host]\nplugins = [\"example-greeter\"]\n" + host_extra +
           "\n[example-greeter]\nport = " + std::to_string(port) + "\n";
  }

  // example-greeter and test-hangs-on-stop (listed as `plugins`, 2 s to
  // stop) sent SIGTERM once ready: the host has begun stopping. Returns it
  // and example-greeter's port (0, the failure recorded, when it got no
  // further).
  std::pair<std::unique_ptr<HostProcess>, std::uint16_t> stopping_beside_a_hang(const std::string& plugins) {
    auto host = start("[host]\nplugins = [" + plugins + "]\nstop_timeout_ms = 2000\n\n[example-greeter]\nport = 0\n");
    const auto port = ready_port(*host);
    if (port == 0) return {std::move(host), 0};
    if (!host->signal(SIGTERM)) {
      ADD_FAILURE() << "cannot send SIGTERM";
      return {std::move(host), 0};
    }
    expect_line(*host, log_line("info", "host", "stopping on SIGTERM"));
    return {std::move(host), port};
  }

  // Greets once and stops on SIGTERM; returns the greeting line.
  std::string greeting_of(HostProcess& host) {
    const auto port = ready_port(host);
    if (port == 0) return {};
    auto line = connect_and_read_line(kLoopback, port);
    EXPECT_TRUE(line) << "no greeting from port " << port;
    host.signal(SIGTERM);
    expect_exit(host, 0);
    return line.value_or("");
  }

  TempDir dir_;
  std::filesystem::path config_ = dir_ / "chat.toml";
};

// ---------------------------------------------------------------------------
// Command line

TEST_F(HostCliTest, VersionPrintsNameAndVersion) {
  auto host = spawn({"--version"});
  expect_exit(*host, 0);
  EXPECT_EQ(host->output(Stream::Stdout), "chat-host " + kVersion + " (plugin API 2.0)\n");
  EXPECT_EQ(host->output(Stream::Stderr), "");
}

TEST_F(HostCliTest, HelpListsTheMainOptions) {
  auto host = spawn({"--help"});
  expect_exit(*host, 0);
  const std::string out = host->output(Stream::Stdout);
  EXPECT_THAT(out, HasSubstr("Usage: chat-host [options]"));
  for (const char* option : {"--config", "--plugins", "--check", "--env-file", "--plugin-dir", "--version"}) {
    EXPECT_THAT(out, HasSubstr(option));
  }
}

TEST_F(HostCliTest, UnknownOptionExitsTwoWithAMessage) {
  auto host = spawn({"--bogus"});
  expect_exit(*host, 2);
  const std::string err = host->output(Stream::Stderr);
  EXPECT_THAT(err, HasSubstr("chat-host: unrecognised option '--bogus'"));
  EXPECT_THAT(err, HasSubstr("Try 'chat-host --help'."));
  EXPECT_EQ(host->output(Stream::Stdout), "");
}

TEST_F(HostCliTest, BadLogLevelExitsTwo) {
  auto host = spawn({"--log-level", "loud", "--check"});
  expect_exit(*host, 2);
  EXPECT_THAT(host->output(Stream::Stderr), HasSubstr("--log-level: expected one of trace, debug, info"));
  EXPECT_THAT(host->output(Stream::Stderr), HasSubstr("got 'loud'"));
}

// ---------------------------------------------------------------------------
// Running example-greeter

TEST_F(HostCliTest, GreeterServesItsConfiguredLineAndStopsOnSigterm) {
  auto host = start(greeter_config(0) + "signature = \"Toml Admin <toml@example.org>\"\n");
  const auto port = ready_port(*host);
  ASSERT_NE(port, 0);
  expect_line(*host, log_line("info", "host", "chat-host " + kVersion + " starting: config " + config_.string()));
  expect_line(*host, log_line("info", "example-greeter", "greeting on tcp://127.0.0.1:" + std::to_string(port)));

  EXPECT_EQ(connect_and_read_line(kLoopback, port),
            "Hello from chat-host " + kVersion + " -- Toml Admin <toml@example.org>");
  // Every connection is greeted, not just the first.
  EXPECT_EQ(connect_and_read_line(kLoopback, port),
            "Hello from chat-host " + kVersion + " -- Toml Admin <toml@example.org>");

  ASSERT_TRUE(host->signal(SIGTERM));
  expect_exit(*host, 0);
  const auto stopping = expect_line(*host, log_line("info", "host", "stopping on SIGTERM"));
  expect_line(*host, std::regex(R"(info +\[host\] stopped$)"), stopping + 1);
  EXPECT_FALSE(can_connect(kLoopback, port)) << "port " << port << " still open after exit";
}

TEST_F(HostCliTest, SigintStopsCleanly) {
  auto host = start(greeter_config(0));
  const auto port = ready_port(*host);
  ASSERT_NE(port, 0);
  ASSERT_TRUE(host->signal(SIGINT));
  expect_exit(*host, 0);
  const auto stopping = expect_line(*host, log_line("info", "host", "stopping on SIGINT"));
  expect_line(*host, std::regex(R"(info +\[host\] stopped$)"), stopping + 1);
  EXPECT_FALSE(can_connect(kLoopback, port));
}

TEST_F(HostCliTest, FixedFreePortIsUsedAndReleased) {
  const auto port = free_tcp_port();
  auto host = start(greeter_config(port));
  EXPECT_EQ(ready_port(*host), port);
  EXPECT_THAT(connect_and_read_line(kLoopback, port).value_or(""), HasSubstr("-- the chat-host team"));
  host->signal(SIGTERM);
  expect_exit(*host, 0);
  // Our connections left TIME_WAIT entries; SO_REUSEADDR binds past those,
  // but not past a socket still listening.
  EXPECT_NO_THROW(TcpListener(port, true)) << "port " << port << " not bindable after exit";
}

TEST_F(HostCliTest, EnvironmentOverridesConfig) {
  auto host = start(greeter_config(0) + "signature = \"Toml Admin\"\n", {}, {{"GREETER_SIGNATURE", "Env Admin"}});
  EXPECT_THAT(greeting_of(*host), HasSubstr(" -- Env Admin"));
}

TEST_F(HostCliTest, EnvFileOverridesConfig) {
  write_file(dir_ / "vars.env", "# test\nGREETER_SIGNATURE=\"Dotenv Admin\"\nexport GREETER_GREETING=Dotenv hello\n");
  auto host = start(greeter_config(0) + "signature = \"Toml Admin\"\n", {"--env-file", (dir_ / "vars.env").string()});
  expect_line(*host, log_line("info", "host", ", env " + (dir_ / "vars.env").string() + ", plugins from "));
  EXPECT_EQ(greeting_of(*host), "Dotenv hello " + kVersion + " -- Dotenv Admin");
}

TEST_F(HostCliTest, EnvironmentBeatsEnvFile) {
  write_file(dir_ / "vars.env", "GREETER_SIGNATURE=Dotenv Admin\nGREETER_GREETING=Dotenv hello\n");
  auto host = start(greeter_config(0) + "signature = \"Toml Admin\"\n", {"--env-file", (dir_ / "vars.env").string()},
                    {{"GREETER_SIGNATURE", "Env Admin"}});
  EXPECT_EQ(greeting_of(*host), "Dotenv hello " + kVersion + " -- Env Admin");
}

TEST_F(HostCliTest, DotEnvInWorkingDirectoryIsReadByDefault) {
  write_file(dir_ / ".env", "GREETER_SIGNATURE=Local Admin\n");
  auto host = start(greeter_config(0) + "signature = \"Toml Admin\"\n");
  EXPECT_THAT(greeting_of(*host), HasSubstr(" -- Local Admin"));
}

TEST_F(HostCliTest, PluginsOptionOverridesConfigAndEnvironment) {
  auto host = start("[host]\nplugins = [\"nope\"]\n\n[example-greeter]\nport = 0\n", {"--plugins", "example-greeter"},
                    {{"CHATHOST_PLUGINS", "also-nope"}});
  EXPECT_THAT(greeting_of(*host), HasSubstr("Hello from chat-host"));
}

TEST_F(HostCliTest, PluginsEnvironmentVariableOverridesConfig) {
  auto host = start("[host]\nplugins = [\"nope\"]\n\n[example-greeter]\nport = 0\n", {},
                    {{"CHATHOST_PLUGINS", "example-greeter"}});
  EXPECT_THAT(greeting_of(*host), HasSubstr("Hello from chat-host"));
}

// ---------------------------------------------------------------------------
// --check

TEST_F(HostCliTest, CheckAcceptsTheShippedConfig) {
  const auto shipped = source_dir() / "config" / "chat.toml";
  // No --plugin-dir: the plugins next to the binary, as an installed host.
  auto host = spawn({"--check", "--config", shipped.string()});
  expect_exit(*host, 0);
  expect_line(*host, log_line("info", "host", "configuration OK: " + shipped.string() + " ("));
  EXPECT_THAT(host->output(), Not(HasSubstr("[host] ready in")));
}

TEST_F(HostCliTest, CheckWithoutConfigUsesTheInstalledOne) {
  auto host = spawn({"--check"});
  expect_exit(*host, 0);
  expect_line(*host, std::regex(R"(info +\[host\] configuration OK: \S*share/chat-host/config/chat\.toml \()"));
}

TEST_F(HostCliTest, CheckPrefersConfigInWorkingDirectory) {
  write_file(dir_ / "config" / "chat.toml", greeter_config(0));
  auto host = spawn({"--check", "--plugin-dir", test_plugin_dir().string()});
  expect_exit(*host, 0);
  expect_line(*host, log_line("info", "host", "configuration OK: config/chat.toml (plugins: example-greeter"));
}

TEST_F(HostCliTest, CheckOpensNoPort) {
  // The test holds the port: a host that tried to bind it would fail.
  TcpListener held;
  auto host = start(greeter_config(held.port()), {"--check"});
  expect_exit(*host, 0);
  expect_line(*host, log_line("info", "host",
                              "configuration OK: " + config_.string() +
                                  " (plugins: example-greeter tcp://127.0.0.1:" + std::to_string(held.port()) + ")"));
  EXPECT_THAT(host->output(), Not(HasSubstr("greeting on")));
}

TEST_F(HostCliTest, CheckLeavesAFreePortFree) {
  const auto port = free_tcp_port();
  auto host = start(greeter_config(port), {"--check"});
  expect_exit(*host, 0);
  EXPECT_FALSE(can_connect(kLoopback, port));
  EXPECT_NO_THROW(TcpListener{port});
}

TEST_F(HostCliTest, CheckRejectsABadConfigWithExitOne) {
  auto host = start(greeter_config(0) + "prot = 1\n", {"--check"});
  expect_exit(*host, 1);
  expect_line(*host, log_line("error", "host", "[example-greeter] unknown key prot"));
  EXPECT_THAT(host->output(), Not(HasSubstr("configuration OK")));
}

// ---------------------------------------------------------------------------
// Plugins that cannot be loaded or configured

TEST_F(HostCliTest, UnknownPluginIsNamedWithTheAvailableOnes) {
  const auto line =
      expect_start_failure("[host]\nplugins = [\"nope\"]\n",
                           "unknown plugin 'nope': no nope.so in " + test_plugin_dir().string() + ", " +
                               (std::filesystem::path(host_binary()).parent_path().parent_path() / "lib" /
                                "chat-host" / "plugins").string() +
                               " (available: ");
  EXPECT_THAT(line, HasSubstr("example-greeter, "));
  EXPECT_THAT(line, HasSubstr("test-throws-on-start"));
}

// ---------------------------------------------------------------------------
// Plugin folders

// A folder of the test's own holding a copy of example-greeter.so, as `file_name`.
std::filesystem::path folder_with_greeter(const std::filesystem::path& folder, const std::string& file_name) {
  std::filesystem::create_directories(folder);
  std::filesystem::copy_file(test_plugin_dir() / "example-greeter.so", folder / file_name,
                             std::filesystem::copy_options::overwrite_existing);
  return folder;
}

TEST_F(HostCliTest, PluginFoldersComeFromEachPluginDirTheEnvironmentAndTheConfigInThatOrder) {
  const auto first = folder_with_greeter(dir_.path() / "first", "example-greeter.so");
  const auto second = dir_.path() / "second";
  const auto by_env = dir_.path() / "by-env";
  const auto by_config = dir_.path() / "by-config";
  for (const auto& folder : {second, by_env, by_config}) std::filesystem::create_directories(folder);
  write_file(config_, greeter_config(0, "plugin_dirs = [\"" + by_config.string() + "\"]\n"));
  auto host = spawn({"--config", config_.string(), "--plugin-dir", first.string(), "--plugin-dir", second.string()},
                    {{"CHATHOST_PLUGIN_PATH", by_env.string() + ":" + by_config.string()}});
  // Each folder once, where it first comes; the host's own last.
  expect_line(*host, log_line("info", "host",
                              "plugins from " + first.string() + ", " + second.string() + ", " + by_env.string() +
                                  ", " + by_config.string() + ", "));
  // The copy in `first` comes before the host's own.
  expect_line(*host, log_line("warn", "host",
                              "plugin 'example-greeter' is found twice: " + (first / "example-greeter.so").string() +
                                  " is used, "));
  ready_port(*host);
  host->signal(SIGTERM);
  expect_exit(*host, 0);

  // Found only in a folder of CHATHOST_PLUGIN_PATH, or only in one of plugin_dirs.
  for (const auto& [env, config_dirs] : std::vector<std::pair<std::string, std::string>>{
           {folder_with_greeter(dir_.path() / "env-only", "greeter-copy.so").string(), ""},
           {"", "plugin_dirs = [\"" + folder_with_greeter(dir_.path() / "config-only", "greeter-copy.so").string() +
                    "\"]\n"}}) {
    write_file(config_, greeter_config(0, config_dirs));
    auto check = spawn({"--config", config_.string(), "--check", "--plugins", "greeter-copy"},
                       {{"CHATHOST_PLUGIN_PATH", env}});
    expect_exit(*check, 1);
    // Found and loaded: what stops it is the name it calls itself.
    EXPECT_THAT(check->output(), HasSubstr("calls itself 'example-greeter'")) << env << config_dirs;
  }
}

TEST_F(HostCliTest, APluginFoundTwiceIsReportedWithBothPathsAndTheFirstIsUsed) {
  const auto first = folder_with_greeter(dir_.path() / "first", "example-greeter.so");
  const auto second = folder_with_greeter(dir_.path() / "second", "example-greeter.so");
  auto host = start(greeter_config(0), {"--plugin-dir", first.string(), "--plugin-dir", second.string()});
  // test_plugin_dir() comes first: its example-greeter.so is used.
  expect_line(*host, log_line("warn", "host",
                              "plugin 'example-greeter' is found twice: " +
                                  (test_plugin_dir() / "example-greeter.so").string() + " is used, " +
                                  (first / "example-greeter.so").string() + " is not"));
  expect_line(*host, log_line("warn", "host", (second / "example-greeter.so").string() + " is not"));
  ready_port(*host);
}

TEST_F(HostCliTest, APluginWhoseNameIsNotItsFileNameIsRefusedNamingBoth) {
  const auto folder = folder_with_greeter(dir_.path() / "mine", "greeter.so");
  expect_start_failure("[host]\nplugins = [\"greeter\"]\n",
                       "plugin 'greeter': " + (folder / "greeter.so").string() +
                           " calls itself 'example-greeter': a plugin's name() and its file name must be the same",
                       {"--plugin-dir", folder.string()});
}

TEST_F(HostCliTest, ATableOfAPluginThatIsNotLoadedHereIsFineAndOneOfNoPluginIsATypoNamingTheFolders) {
  // grpc-chat is in the host's own folder, not in this host's list.
  auto host = start(greeter_config(0) + "\n[grpc-chat]\nport = 0\n", {"--check"});
  expect_exit(*host, 0);
  const auto mine = dir_.path() / "mine";
  std::filesystem::create_directories(mine);
  expect_start_failure(greeter_config(0) + "\n[grpc-caht]\nport = 0\n",
                       "unknown table [grpc-caht]: no plugin of that name in " + test_plugin_dir().string() + ", " +
                           mine.string() + ", ",
                       {"--plugin-dir", mine.string()});
}

TEST_F(HostCliTest, LibraryThatIsNoElfFileCannotBeLoaded) {
  const auto path = test_plugin_dir() / "test-not-a-library.so";
  expect_start_failure("[host]\nplugins = [\"test-not-a-library\"]\n",
                       "plugin 'test-not-a-library': cannot load " + path.string() + ": ");
}

TEST_F(HostCliTest, LibraryWithoutFactoryIsNoPlugin) {
  const auto path = test_plugin_dir() / "test-no-factory.so";
  expect_start_failure("[host]\nplugins = [\"test-no-factory\"]\n",
                       "plugin 'test-no-factory': " + path.string() + " is not a chat-host plugin");
}

TEST_F(HostCliTest, PluginForAnotherMajorApiIsRefused) {
  expect_start_failure("[host]\nplugins = [\"test-wrong-api-version\"]\n",
                       "was built for host API 3.0, this host provides 2.0; rebuild the plugin");
}

TEST_F(HostCliTest, PluginForANewerMinorApiIsRefused) {
  expect_start_failure(
      "[host]\nplugins = [\"test-newer-minor-version\"]\n",
      "plugin 'test-newer-minor-version': " + (test_plugin_dir() / "test-newer-minor-version.so").string() +
          " was built for host API 2.1, this host provides 2.0");
}

TEST_F(HostCliTest, ConfigureThrowingFailsTheHost) {
  const auto port = free_tcp_port();
  expect_start_failure(
      "[host]\nplugins = [\"example-greeter\", \"test-throws-on-configure\"]\n\n[example-greeter]\nport = " +
          std::to_string(port) + "\n",
      "plugin 'test-throws-on-configure': configure failed: refusing to configure, as designed", {}, {}, port);
}

TEST_F(HostCliTest, PluginListedTwiceIsRefused) {
  expect_start_failure("[host]\nplugins = [\"example-greeter\", \"example-greeter\"]\n",
                       "[host] plugins: plugin 'example-greeter' is listed twice");
}

// ---------------------------------------------------------------------------
// Plugins failing to start

TEST_F(HostCliTest, StartFailureStopsThePluginsAlreadyStarted) {
  auto host =
      start("[host]\nplugins = [\"example-greeter\", \"test-throws-on-start\"]\n\n[example-greeter]\nport = 0\n");
  auto greeting = host->wait_for_line(std::regex(R"(info +\[example-greeter\] greeting on tcp://127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(greeting) << host->output();
  const auto port = to_port((*greeting)[1]);
  expect_exit(*host, 1);
  const auto failed = expect_line(
      *host,
      log_line("error", "host",
               "plugin 'test-throws-on-start' failed to start: cannot bind 127.0.0.1:1: address already in use"),
      greeting->index + 1);
  EXPECT_THAT(host->output(), Not(HasSubstr("[host] ready in")));
  EXPECT_THAT(host->output(), Not(HasSubstr("[test-throws-on-start] stopped")))
      << "stop() of a plugin that never started";
  EXPECT_LT(greeting->index, failed);
  EXPECT_FALSE(can_connect(kLoopback, port)) << "example-greeter's port " << port << " left open";
  EXPECT_NO_THROW(TcpListener(port, true));
}

TEST_F(HostCliTest, PortInUseFailsTheStartNamingThePlugin) {
  TcpListener held;
  auto host = start(greeter_config(held.port()));
  expect_exit(*host, 1);
  auto line = host->wait_for_line(log_line("error", "host", "plugin 'example-greeter' failed to start: "), 0ms);
  ASSERT_TRUE(line) << host->output();
  EXPECT_THAT(line->line, HasSubstr("already in use"));
  EXPECT_THAT(host->output(), Not(HasSubstr("[host] ready in")));
}

// ---------------------------------------------------------------------------
// Configuration errors: each names the file, line, table and key

TEST_F(HostCliTest, UnknownKeyNamesFileLineTableAndKey) {
  expect_start_failure(greeter_config(0) + "prot = 7070\n",
                       "plugin 'example-greeter': " + config_.string() +
                           ":6: [example-greeter] unknown key prot (known keys: host, port, greeting, signature)");
}

TEST_F(HostCliTest, UnknownHostKeyIsRefused) {
  expect_start_failure("[host]\nplugins = [\"example-greeter\"]\nadmin = \"x\"\n",
                       config_.string() + ":3: [host] unknown key admin (known keys: plugins, plugin_dir");
}

TEST_F(HostCliTest, WrongTypeIsRefused) {
  expect_start_failure("[host]\nplugins = [\"example-greeter\"]\n\n[example-greeter]\nport = \"abc\"\n",
                       config_.string() + ":5: [example-greeter] port: expected integer, got string \"abc\"");
}

TEST_F(HostCliTest, IntegerOutOfRangeIsRefused) {
  expect_start_failure(greeter_config(70000),
                       config_.string() + ":5: [example-greeter] port: expected integer in 0..65535, got 70000");
}

TEST_F(HostCliTest, MissingConfigFile) {
  const auto missing = dir_ / "missing.toml";
  auto host = spawn({"--config", missing.string(), "--plugin-dir", test_plugin_dir().string()});
  expect_exit(*host, 1);
  expect_line(*host,
              log_line("error", "host", "cannot read config file " + missing.string() + ": No such file or directory"));
}

TEST_F(HostCliTest, MalformedTomlNamesLineAndColumn) {
  auto host = start("[host]\nplugins = [\"example-greeter\"]\nlog_level = \"info\n");
  expect_exit(*host, 1);
  expect_line(*host, std::regex(R"(error +\[host\] \S*:3:\d+: invalid TOML: )"));
  EXPECT_THAT(host->output(), Not(HasSubstr("[host] chat-host ")));
}

// The message must say which file is broken, like every other config error.
TEST_F(HostCliTest, MalformedTomlNamesTheFile) {
  expect_start_failure("[host]\nplugins = [\"example-greeter\"\n\n[example-greeter]\nport = 0\n",
                       config_.string() + ":4:1: invalid TOML: ");
}

TEST_F(HostCliTest, UnknownTableIsRefused) {
  expect_start_failure("[host]\nplugins = [\"example-greeter\"]\n\n[exmaple-greeter]\nport = 0\n",
                       config_.string() + ":4: unknown table [exmaple-greeter]: no plugin of that name in " +
                           test_plugin_dir().string());
}

TEST_F(HostCliTest, KeyOutsideAnyTableIsRefused) {
  expect_start_failure("plugins = [\"example-greeter\"]\n", config_.string() + ":1: key plugins is outside any table");
}

TEST_F(HostCliTest, MalformedEnvFileLineNamesFileAndLine) {
  const auto env_file = dir_.write("bad.env", "ADMIN_NAME=ok\n\nthis line has no equals sign\n");
  expect_greeter_refused_with_env_file(
      env_file, env_file.string() + ":3: expected KEY=VALUE, got 'this line has no equals sign'");
}

TEST_F(HostCliTest, MissingEnvFileIsAnError) {
  const auto env_file = dir_ / "missing.env";
  expect_greeter_refused_with_env_file(env_file,
                                       "cannot read env file " + env_file.string() + ": No such file or directory");
}

TEST_F(HostCliTest, BadEnvironmentValueNamesTheVariable) {
  expect_start_failure(greeter_config(0),
                       "environment variable CHATHOST_STOP_TIMEOUT_MS: [host] stop_timeout_ms: expected integer in "
                       "100..600000, got \"abc\"",
                       {}, {{"CHATHOST_STOP_TIMEOUT_MS", "abc"}});
}

TEST_F(HostCliTest, BadEnvFileValueNamesFileLineAndVariable) {
  const auto env_file = dir_.write("vars.env", "# comment\nCHATHOST_LOG_LEVEL=chatty\n");
  expect_greeter_refused_with_env_file(
      env_file, env_file.string() + ":2: CHATHOST_LOG_LEVEL: [host] log_level: expected one of \"trace\"");
}

// ---------------------------------------------------------------------------
// Shutdown requested by a plugin, and plugins that do not stop

TEST_F(HostCliTest, PluginRequestingShutdownEndsTheHostWithExitOne) {
  auto host = start("[host]\nplugins = [\"test-requests-shutdown\"]\n");
  const auto ready = expect_line(*host, std::regex(R"(info +\[host\] ready in \d+ ms: test-requests-shutdown$)"));
  expect_exit(*host, 1);
  const auto stopping = expect_line(
      *host, log_line("error", "host", "stopping: plugin 'test-requests-shutdown' failed: lost its backing store"),
      ready + 1);
  const auto stopped = expect_line(*host, log_line("info", "test-requests-shutdown", "stopped"), stopping + 1);
  expect_line(*host, std::regex(R"(info +\[host\] stopped$)"), stopped + 1);
}

TEST_F(HostCliTest, PluginHangingInStopIsCutOffByTheWatchdog) {
  auto host = start("[host]\nplugins = [\"test-hangs-on-stop\"]\nstop_timeout_ms = 500\n");
  expect_line(*host, std::regex(R"(info +\[host\] ready in \d+ ms: test-hangs-on-stop$)"));
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(host->signal(SIGTERM));
  const auto status = host->wait_exit(5s);
  const auto took = std::chrono::steady_clock::now() - began;
  ASSERT_TRUE(status) << "host hung in stop; output:\n" << host->output();
  EXPECT_EQ(*status, 1) << host->output();
  EXPECT_GE(took, 450ms);
  expect_line(*host, log_line("error", "host",
                              "plugin 'test-hangs-on-stop' did not stop within 500 ms (host.stop_timeout_ms)"));
  EXPECT_THAT(host->output(), Not(HasSubstr("[host] stopped")));
}

TEST_F(HostCliTest, SecondSignalWhileStoppingExitsAtOnce) {
  auto host = start("[host]\nplugins = [\"test-hangs-on-stop\"]\nstop_timeout_ms = 60000\n");
  expect_line(*host, std::regex(R"(info +\[host\] ready in \d+ ms: test-hangs-on-stop$)"));
  ASSERT_TRUE(host->signal(SIGTERM));
  expect_line(*host, log_line("info", "host", "stopping on SIGTERM"));
  ASSERT_TRUE(host->signal(SIGINT));
  expect_exit(*host, 130);
  expect_line(*host, log_line("error", "host", "SIGINT again while stopping; exiting now"));
}

// ---------------------------------------------------------------------------
// Start in list order, stop in reverse

TEST_F(HostCliTest, PluginsStartInListOrderAndStopInReverse) {
  auto host =
      start("[host]\nplugins = [\"example-greeter\", \"test-requests-shutdown\"]\n\n[example-greeter]\nport = 0\n");
  expect_exit(*host, 1);
  std::size_t at = 0;
  const std::vector<std::regex> steps{
      log_line("info", "host", "starting: config "),
      log_line("info", "example-greeter", "greeting on tcp://127.0.0.1:"),
      log_line("info", "test-requests-shutdown", "started"),
      log_line("info", "host", "ready in "),
      log_line("error", "host", "stopping: plugin 'test-requests-shutdown' failed"),
      log_line("info", "test-requests-shutdown", "stopped"),
      log_line("info", "host", "stopped"),
  };
  for (const auto& step : steps) {
    at = expect_line(*host, step, at) + 1;
  }
  expect_line(*host, std::regex(R"(ready in \d+ ms: example-greeter tcp://127\.0\.0\.1:\d+, test-requests-shutdown$)"));
}

TEST_F(HostCliTest, PluginsOptionOrderIsTheStartOrder) {
  auto host = start("[example-greeter]\nport = 0\n", {"--plugins", "test-requests-shutdown,example-greeter"});
  expect_exit(*host, 1);
  const auto started = expect_line(*host, log_line("info", "test-requests-shutdown", "started"));
  const auto greeting = expect_line(*host, log_line("info", "example-greeter", "greeting on "), started + 1);
  expect_line(*host, log_line("info", "host", "ready in "), greeting + 1);
  expect_line(*host, std::regex(R"(ready in \d+ ms: test-requests-shutdown, example-greeter tcp://)"));
}

// The later plugin is stopped first: while test-hangs-on-stop (listed last)
// hangs in stop(), example-greeter has not been stopped and still greets.
TEST_F(HostCliTest, LaterPluginStopsFirst) {
  const auto [host, port] = stopping_beside_a_hang(R"("example-greeter", "test-hangs-on-stop")");
  ASSERT_NE(port, 0);
  EXPECT_THAT(connect_and_read_line(kLoopback, port, 1s).value_or("(none)"), HasSubstr("Hello from chat-host"));
  EXPECT_TRUE(host->running()) << "the hang should still hold the host";
  expect_exit(*host, 1);
  expect_line(*host, log_line("error", "host", "plugin 'test-hangs-on-stop' did not stop within 2000 ms"));
}

// And the earlier plugin is stopped last: with the order reversed,
// example-greeter has closed its port while test-hangs-on-stop still hangs.
TEST_F(HostCliTest, EarlierPluginStopsLast) {
  const auto [host, port] = stopping_beside_a_hang(R"("test-hangs-on-stop", "example-greeter")");
  ASSERT_NE(port, 0);
  bool closed_while_running = false;
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < deadline) {
    const bool open = can_connect(kLoopback, port, 200ms);
    if (!host->running()) break;
    if (!open) {
      closed_while_running = true;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(closed_while_running) << "example-greeter was not stopped before test-hangs-on-stop";
  expect_exit(*host, 1);
  expect_line(*host, log_line("error", "host", "plugin 'test-hangs-on-stop' did not stop within 2000 ms"));
}

}  // namespace
}  // namespace chathost::test
