#include "support/test_host.hpp"

#include "support/config_tables.hpp"
#include "support/host_variables.hpp"
#include "support/test_helpers.hpp"

#include <csignal>
#include <regex>
#include <stdexcept>
#include <thread>
#include <utility>

namespace chathost::test {

// Long enough for a sanitizer build on a loaded machine.
constexpr auto kStartPatience = 30s;

TestHost::TestHost(const std::filesystem::path& dir, TestHostOptions options)
    : dir_(dir / options.name), options_(std::move(options)) {
  std::filesystem::create_directories(dir_);
  if (options_.config_file.empty()) {
    std::string list;
    for (const auto& plugin : options_.plugins) list += (list.empty() ? "\"" : ", \"") + plugin + "\"";
    options_.config_file = dir_ / "chat.toml";
    write_file(options_.config_file,
               "[host]\nplugins = [" + list + "]\n" + options_.host_keys + "\n" + options_.tables);
  }
  start();
}

void TestHost::start() {
  std::vector<std::string> args{"--config", options_.config_file.string()};
  args.insert(args.end(), options_.args.begin(), options_.args.end());
  for (int attempt = 0;; ++attempt) {
    process_.reset();
    endpoints_.clear();
    process_ = std::make_unique<HostProcess>(ProcessOptions{.executable = host_binary(),
                                                            .args = args,
                                                            .env = options_.env,
                                                            .unset_env = host_variables(),
                                                            .working_dir = dir_,
                                                            .file_size_limit = options_.file_size_limit,
                                                            .open_files_limit = options_.open_files_limit});
    if (!options_.expect_ready) {
      if (!process_->wait_exit(kStartPatience)) {
        throw std::runtime_error("host " + options_.name + " was expected to exit, and runs:\n" + process_->output());
      }
      return;
    }
    const auto ready = process_->wait_for_line(std::regex(R"(ready in \d+ ms: (.*)|failed to start)"), kStartPatience);
    if (ready && !ready->groups[1].empty()) {
      read_endpoints(ready->groups[1]);
      return;
    }
    // A fixed port the previous run's connections still hold: it frees soon.
    process_->wait_exit(kStartPatience);
    if (attempt >= 25 || process_->output().find("in use") == std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  throw std::runtime_error("host " + options_.name + " did not start:\n" + process_->output());
}

void TestHost::read_endpoints(const std::string& described) {
  static const std::regex kEndpoint(R"(([\w-]+) (\w+)://(\[[^\]]+\]|[^\s,:]+):(\d+))");
  for (std::sregex_iterator it(described.begin(), described.end(), kEndpoint), end; it != end; ++it) {
    const auto& match = *it;
    endpoints_.emplace(match[1].str(), Endpoint{match[2].str(), match[3].str(),
                                                static_cast<std::uint16_t>(std::stoi(match[4].str()))});
  }
}

TestHost::~TestHost() {
  if (process_ && process_->running()) {
    EXPECT_TRUE(stop_cleanly());
  }
}

const Endpoint& TestHost::endpoint(std::string_view plugin) const {
  const auto it = endpoints_.find(plugin);
  if (it == endpoints_.end()) {
    throw std::runtime_error("host " + dir_.filename().string() + " has no address for " + std::string(plugin));
  }
  return it->second;
}

std::optional<int> TestHost::stop() {
  process_->signal(SIGTERM);
  return process_->wait_exit(30s);
}

::testing::AssertionResult clean_exit(const std::optional<int>& code, const HostProcess& process,
                                      const std::string& name) {
  if (code == 0) return ::testing::AssertionSuccess();
  // LeakSanitizer's own tracer sometimes crashes at exit while scanning the
  // dynamic TLS of dlopen'ed plugins ("Tracer caught signal 11", a bug of
  // GCC 12's sanitizer runtime with glibc 2.36): no leak report, and not the
  // test's business. It ends the process with 1, or aborts it.
  const std::string output = process.output();
  if ((code == 1 || code == 128 + SIGABRT) && output.find("Tracer caught signal") != std::string::npos &&
      output.find("LeakSanitizer has encountered a fatal error") != std::string::npos &&
      output.find("detected memory leaks") == std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "host " << name << " exited with "
                                       << (code ? std::to_string(*code) : "nothing (still running)") << ":\n"
                                       << output;
}

::testing::AssertionResult TestHost::stop_cleanly() {
  return clean_exit(stop(), *process_, dir_.filename().string());
}

void TestHost::kill() {
  process_->signal(SIGKILL);
  process_->wait_exit();
}

std::unique_ptr<HostProcess> start_on_bad_config(const std::filesystem::path& dir, const std::string& toml,
                                                 std::map<std::string, std::string> env) {
  write_file(dir / "bad.toml", toml);
  return std::make_unique<HostProcess>(ProcessOptions{.executable = host_binary(),
                                                      .args = {"--config", (dir / "bad.toml").string()},
                                                      .env = std::move(env),
                                                      .unset_env = host_variables(),
                                                      .working_dir = dir});
}

std::unique_ptr<TestHost> host_beside_chat_service(const std::filesystem::path& dir, const std::string& plugin,
                                                   PluginTable plugin_table, const std::string& plugin_extra) {
  const auto chat_port = free_tcp_port();
  return std::make_unique<TestHost>(dir, TestHostOptions{.plugins = {"grpc-chat", plugin},
                                                         .tables = grpc_chat_table(chat_port) +
                                                                   plugin_table(chat_port, plugin_extra)});
}

}  // namespace chathost::test

namespace chathost::test {

Frozen::Frozen(TestHost& host) : host_(host) { host_.process().signal(SIGSTOP); }

void Frozen::thaw() {
  if (!thawed_) host_.process().signal(SIGCONT);
  thawed_ = true;
}

}  // namespace chathost::test
