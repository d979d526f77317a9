#include "support/host_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>
#include <system_error>
#include <utility>

extern char** environ;

namespace chathost::test {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what, int error = errno) {
  throw std::system_error(error, std::generic_category(), what);
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

struct Pipe {
  int read = -1;
  int write = -1;

  Pipe() {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) throw_errno("pipe2");
    read = fds[0];
    write = fds[1];
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  ~Pipe() {
    close_fd(read);
    close_fd(write);
  }
  int take_read() { return std::exchange(read, -1); }
  int take_write() { return std::exchange(write, -1); }
};

// "name" resolved through PATH like execvp does, but in the parent: the child
// must only make async-signal-safe calls between fork and exec.
std::filesystem::path resolve_executable(const std::filesystem::path& executable) {
  const std::string text = executable.string();
  if (text.find('/') != std::string::npos) return std::filesystem::absolute(executable);
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    const std::size_t colon = dirs.find(':');
    std::filesystem::path candidate = std::filesystem::path(dirs.substr(0, colon)) / executable;
    if (::access(candidate.c_str(), X_OK) == 0) return std::filesystem::absolute(candidate);
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return executable;  // exec fails with ENOENT and the constructor reports it
}

std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::vector<std::string> result;
  if (options.inherit_env && environ != nullptr) {
    const std::set<std::string, std::less<>> removed(options.unset_env.begin(), options.unset_env.end());
    for (char** entry = environ; *entry != nullptr; ++entry) {
      std::string_view text(*entry);
      std::string_view name = text.substr(0, text.find('='));
      if (removed.contains(name) || options.env.contains(std::string(name))) continue;
      result.emplace_back(text);
    }
  }
  for (const auto& [name, value] : options.env) result.push_back(name + "=" + value);
  return result;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  for (auto& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

// In the forked child: reports errno to the parent and ends.
[[noreturn]] void fail_child(int error_fd) {
  const int error = errno;
  [[maybe_unused]] auto written = ::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

// Runs in the forked child: only async-signal-safe calls. Reports a failure
// as an errno value on `error_fd` (close-on-exec, so a successful exec
// closes it silently).
[[noreturn]] void exec_child(const char* executable, char* const* argv, char* const* envp, const char* working_dir,
                             int stdin_fd, int stdout_fd, int stderr_fd, int error_fd, pid_t parent,
                             const rlim_t* file_size_limit, const rlim_t* open_files_limit) {
  // Die with the test process even if it is killed before its destructors run.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);

  // The test's signal mask and ignored signals would otherwise survive exec.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);

  if (file_size_limit != nullptr) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_FSIZE, &limit) != 0) fail_child(error_fd);
    limit.rlim_cur = *file_size_limit;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) fail_child(error_fd);
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGXFSZ, &ignore, nullptr);  // ignored survives exec; a handler would not
  }

  if (open_files_limit != nullptr) {
    // Soft and hard: the host cannot raise it back.
    const rlimit limit{*open_files_limit, *open_files_limit};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) fail_child(error_fd);
  }

  if (working_dir != nullptr && ::chdir(working_dir) != 0) fail_child(error_fd);
  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(stdout_fd, STDOUT_FILENO) < 0 ||
      ::dup2(stderr_fd, STDERR_FILENO) < 0) {
    fail_child(error_fd);
  }
  ::execve(executable, argv, envp);
  fail_child(error_fd);
}

}  // namespace

HostProcess::HostProcess(ProcessOptions options) {
  // Everything the child needs is prepared before fork.
  const std::filesystem::path executable = resolve_executable(options.executable);
  std::vector<std::string> arg_strings;
  arg_strings.push_back(executable.string());
  arg_strings.insert(arg_strings.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env_strings = child_environment(options);
  std::vector<char*> argv = pointers(arg_strings);
  std::vector<char*> envp = pointers(env_strings);
  const std::string working_dir = options.working_dir.string();
  const std::optional<rlim_t> file_size_limit =
      options.file_size_limit ? std::optional<rlim_t>(static_cast<rlim_t>(*options.file_size_limit)) : std::nullopt;
  const std::optional<rlim_t> open_files_limit =
      options.open_files_limit ? std::optional<rlim_t>(static_cast<rlim_t>(*options.open_files_limit)) : std::nullopt;

  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null < 0) throw_errno("open /dev/null");
  Pipe out;
  Pipe err;
  Pipe exec_error;
  Pipe wake;

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(dev_null);
    throw_errno("fork", error);
  }
  if (pid == 0) {
    exec_child(executable.c_str(), argv.data(), envp.data(), working_dir.empty() ? nullptr : working_dir.c_str(),
               dev_null, out.write, err.write, exec_error.write, parent,
               file_size_limit ? &*file_size_limit : nullptr, open_files_limit ? &*open_files_limit : nullptr);
  }

  ::close(dev_null);
  close_fd(out.write);
  close_fd(err.write);
  close_fd(exec_error.write);

  int exec_errno = 0;
  ssize_t got = 0;
  do {
    got = ::read(exec_error.read, &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  if (got > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw_errno("cannot start " + executable.string() + (working_dir.empty() ? std::string() : " in " + working_dir),
                exec_errno);
  }

  pid_ = pid;
  out_fd_ = out.take_read();
  err_fd_ = err.take_read();
  wake_read_fd_ = wake.take_read();
  wake_write_fd_ = wake.take_write();
  reader_ = std::thread([this] { read_loop(); });
}

HostProcess::~HostProcess() {
  {
    std::lock_guard lock(reap_mutex_);
    if (!exit_code_) ::kill(pid_, SIGKILL);  // not reaped yet, so pid_ is still our child
  }
  try_reap(true);

  const char byte = 0;
  [[maybe_unused]] auto written = ::write(wake_write_fd_, &byte, 1);
  if (reader_.joinable()) reader_.join();
  close_fd(out_fd_);
  close_fd(err_fd_);
  close_fd(wake_read_fd_);
  close_fd(wake_write_fd_);
}

void HostProcess::read_loop() {
  std::array<pollfd, 3> fds{{{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}}};
  std::array<char, 4096> buffer{};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[2].revents != 0) break;  // the destructor wants us gone
    for (std::size_t i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const Stream stream = i == 0 ? Stream::Stdout : Stream::Stderr;
      const ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n > 0) {
        append(stream, buffer.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        finish_stream(stream);
        fds[i].fd = -1;  // poll ignores negative descriptors
      }
    }
  }
  // However we got here, nobody waits for more output.
  finish_stream(Stream::Stdout);
  finish_stream(Stream::Stderr);
}

void HostProcess::append(Stream stream, const char* data, std::size_t size) {
  {
    std::lock_guard lock(mutex_);
    std::string& partial = stream == Stream::Stdout ? partial_out_ : partial_err_;
    partial.append(data, size);
    std::size_t start = 0;
    for (std::size_t nl = partial.find('\n'); nl != std::string::npos; nl = partial.find('\n', start)) {
      lines_.push_back({stream, partial.substr(start, nl - start)});
      start = nl + 1;
    }
    partial.erase(0, start);
  }
  changed_.notify_all();
}

void HostProcess::finish_stream(Stream stream) {
  {
    std::lock_guard lock(mutex_);
    bool& open = stream == Stream::Stdout ? out_open_ : err_open_;
    std::string& partial = stream == Stream::Stdout ? partial_out_ : partial_err_;
    if (!open) return;
    open = false;
    if (!partial.empty()) lines_.push_back({stream, std::exchange(partial, {})});
  }
  changed_.notify_all();
}

std::optional<LineMatch> HostProcess::wait_for_line(const std::regex& pattern, std::chrono::milliseconds timeout,
                                                    std::size_t from, Stream stream) {
  const auto deadline = Clock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t next = from;
  for (;;) {
    for (; next < lines_.size(); ++next) {
      const CapturedLine& line = lines_[next];
      if (stream != Stream::Any && line.stream != stream) continue;
      std::smatch match;
      if (std::regex_search(line.text, match, pattern)) {
        LineMatch result{line.text, {}, next, line.stream};
        for (const auto& group : match) result.groups.push_back(group.str());
        return result;
      }
    }
    const bool more_coming = stream == Stream::Stdout   ? out_open_
                             : stream == Stream::Stderr ? err_open_
                                                        : out_open_ || err_open_;
    if (!more_coming) return std::nullopt;
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout && next == lines_.size()) {
      return std::nullopt;
    }
  }
}

std::string HostProcess::output(Stream stream) const {
  std::lock_guard lock(mutex_);
  std::string text;
  for (const auto& line : lines_) {
    if (stream != Stream::Any && line.stream != stream) continue;
    text += line.text;
    text += '\n';
  }
  return text;
}

std::vector<CapturedLine> HostProcess::lines() const {
  std::lock_guard lock(mutex_);
  return lines_;
}

bool HostProcess::signal(int signal_number) {
  std::lock_guard lock(reap_mutex_);
  // Until we reap it the pid cannot be reused, even if the child has exited.
  if (exit_code_) return false;
  return ::kill(pid_, signal_number) == 0;
}

bool HostProcess::try_reap(bool block) {
  std::lock_guard lock(reap_mutex_);
  if (exit_code_) return true;
  int status = 0;
  pid_t result = 0;
  do {
    result = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result == 0) return false;
  if (result < 0) {
    exit_code_ = -1;  // ECHILD: someone else reaped it (SIGCHLD ignored?)
  } else if (WIFEXITED(status)) {
    exit_code_ = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    term_signal_ = WTERMSIG(status);
    exit_code_ = 128 + WTERMSIG(status);
  } else {
    return false;  // stopped or continued: still alive
  }
  return true;
}

bool HostProcess::running() { return !try_reap(false); }

std::optional<int> HostProcess::wait_exit(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto pause = 1ms;
  while (!try_reap(false)) {
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 20ms);
  }
  // The child is gone; let the reader take in its last output, already in
  // the pipes. A grandchild may hold them open for good, hence the bound.
  {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, 1s, [this] { return !out_open_ && !err_open_; });
  }
  std::lock_guard lock(reap_mutex_);
  return exit_code_;
}

std::optional<int> HostProcess::term_signal() const {
  std::lock_guard lock(reap_mutex_);
  return term_signal_;
}

}  // namespace chathost::test
