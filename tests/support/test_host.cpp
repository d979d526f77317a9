#include "support/test_host.hpp"

#include "support/host_variables.hpp"
#include "support/test_helpers.hpp"

#include <csignal>
#include <regex>
#include <stdexcept>

namespace chathost::test {

// Long enough for a sanitizer build on a loaded machine.
constexpr auto kStartPatience = 30s;

TestHost::TestHost(const std::filesystem::path& dir, TestHostOptions options) : dir_(dir / options.name) {
  std::filesystem::create_directories(dir_);
  std::string list;
  for (const auto& plugin : options.plugins) list += (list.empty() ? "\"" : ", \"") + plugin + "\"";
  write_file(dir_ / "chat.toml", "[host]\nplugins = [" + list + "]\n" + options.host_keys + "\n" + options.tables);
  std::vector<std::string> args{"--config", (dir_ / "chat.toml").string()};
  args.insert(args.end(), options.args.begin(), options.args.end());
  process_ = std::make_unique<HostProcess>(ProcessOptions{.executable = host_binary(),
                                                          .args = args,
                                                          .env = options.env,
                                                          .unset_env = host_variables(),
                                                          .working_dir = dir_,
                                                          .open_files_limit = options.open_files_limit});
  if (!options.expect_ready) {
    if (!process_->wait_exit(kStartPatience)) {
      throw std::runtime_error("host " + options.name + " was expected to exit, and runs:\n" + process_->output());
    }
    return;
  }
  const auto ready = process_->wait_for_line(std::regex(R"(ready in \d+ ms: (.*))"), kStartPatience);
  if (!ready) throw std::runtime_error("host " + options.name + " did not start:\n" + process_->output());
  const std::string described = (*ready)[1];
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
  return process_->wait_exit(15s);
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

}  // namespace chathost::test
