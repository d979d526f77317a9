// chathost::test::HostProcess: runs an executable (usually chat-host) as a
// child process for integration tests and captures what it prints.
//
//   HostProcess host({.executable = host_binary(),
//                     .args = {"--config", config.string()},
//                     .env = {{"ADMIN_NAME", "Ada"}},
//                     .working_dir = dir.path()});
//   auto ready = host.wait_for_line(std::regex(R"(ready in \d+ ms)"), 10s);
//   ASSERT_TRUE(ready) << host.output();
//   host.signal(SIGTERM);
//   EXPECT_EQ(host.wait_exit(10s), 0);
//
// stdin is /dev/null; stdout and stderr go through pipes that a background
// thread reads into a line buffer, so waiting never blocks the child. The
// destructor SIGKILLs and reaps the child if it is still running, so a failed
// assertion never leaves a process behind; and the child is SIGKILLed by the
// kernel if the test process dies (PR_SET_PDEATHSIG). The latter is tied to
// the creating thread: create a HostProcess on a thread that outlives it,
// normally the test's main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace chathost::test {

using namespace std::chrono_literals;

// Long enough for a sanitizer build on a loaded machine, short enough that a
// hang fails the test quickly.
inline constexpr std::chrono::milliseconds kDefaultTimeout = 10s;

enum class Stream { Stdout, Stderr, Any };

// Designated initializers welcome: every member has a default.
struct ProcessOptions {
  std::filesystem::path executable{};
  std::vector<std::string> args{};  // argv[1..]; argv[0] is the executable path
  // Set in the child's environment, over the inherited one.
  std::map<std::string, std::string> env{};
  // Removed from the inherited environment (ignored for names also in `env`).
  std::vector<std::string> unset_env{};
  // false: the child sees only `env`.
  bool inherit_env = true;
  // Empty: the test's own working directory.
  std::filesystem::path working_dir{};
  // Set: the child's soft RLIMIT_FSIZE in bytes (the hard limit is kept),
  // with SIGXFSZ ignored, so a write past it fails with EFBIG instead of
  // killing the child: a disk that is full for this process alone. Raise it
  // later with prlimit(2) on pid().
  std::optional<std::uint64_t> file_size_limit{};
  // Set: the child's RLIMIT_NOFILE, soft and hard (so it cannot raise it):
  // a host that runs out of file descriptors.
  std::optional<std::uint64_t> open_files_limit{};
};

// One captured line that matched: the whole line, the regex groups
// (groups[0] is the whole match) and where the line sits in lines().
struct LineMatch {
  std::string line;
  std::vector<std::string> groups;
  std::size_t index = 0;
  Stream stream = Stream::Stderr;

  const std::string& operator[](std::size_t group) const { return groups.at(group); }
};

struct CapturedLine {
  Stream stream;
  std::string text;  // without the newline
};

class HostProcess {
 public:
  // Starts the child; throws std::system_error when it cannot be started
  // (including a failed exec, e.g. a missing executable).
  explicit HostProcess(ProcessOptions options);
  ~HostProcess();

  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;
  HostProcess(HostProcess&&) = delete;
  HostProcess& operator=(HostProcess&&) = delete;

  pid_t pid() const { return pid_; }

  // The first line at or after line number `from` (see LineMatch::index)
  // on `stream` in which `pattern` is found (std::regex_search). Returns
  // nullopt after `timeout`, or as soon as the child closed both streams
  // without printing such a line.
  std::optional<LineMatch> wait_for_line(const std::regex& pattern, std::chrono::milliseconds timeout = kDefaultTimeout,
                                         std::size_t from = 0, Stream stream = Stream::Any);

  // Everything captured so far, one line per '\n'; an unterminated last line
  // appears once the stream has ended.
  std::string output(Stream stream = Stream::Any) const;
  std::vector<CapturedLine> lines() const;

  // Sends `signal_number` to the child unless it has already been reaped.
  // Returns false if it was not sent.
  bool signal(int signal_number);

  // Waits for the child to end and for its output to be read to the end.
  // Returns the exit code, 128 + N when killed by signal N, or nullopt if it
  // still runs after `timeout`.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = kDefaultTimeout);

  // Non-blocking: whether the child has ended (reaping it if so).
  bool running();

  // After wait_exit: the signal that ended the child, if one did.
  std::optional<int> term_signal() const;

 private:
  void read_loop();
  void append(Stream stream, const char* data, std::size_t size);
  void finish_stream(Stream stream);
  bool try_reap(bool block);

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int wake_read_fd_ = -1;  // written to by the destructor to stop read_loop
  int wake_write_fd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<CapturedLine> lines_;
  std::string partial_out_;
  std::string partial_err_;
  bool out_open_ = true;
  bool err_open_ = true;

  mutable std::mutex reap_mutex_;
  std::optional<int> exit_code_;  // set once reaped
  std::optional<int> term_signal_;

  std::thread reader_;
};

}  // namespace chathost::test
