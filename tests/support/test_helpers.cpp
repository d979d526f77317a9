#include "support/test_helpers.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#if !defined(CHATHOST_BINARY) || !defined(CHATHOST_TEST_PLUGIN_DIR) || !defined(CHATHOST_SOURCE_DIR)
#error "chat_test_support needs CHATHOST_BINARY, CHATHOST_TEST_PLUGIN_DIR and CHATHOST_SOURCE_DIR"
#endif

namespace chathost::test {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void throw_errno(const std::string& what, int error = errno) {
  throw std::system_error(error, std::generic_category(), what);
}

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// The sockaddr casts the socket API needs, in one place.
const sockaddr* as_sockaddr(const sockaddr_in* address) { return reinterpret_cast<const sockaddr*>(address); }
sockaddr* as_sockaddr(sockaddr_in* address) { return reinterpret_cast<sockaddr*>(address); }

std::uint16_t local_port(int fd) {
  sockaddr_in bound{};
  socklen_t size = sizeof bound;
  if (::getsockname(fd, as_sockaddr(&bound), &size) != 0) throw_errno("getsockname");
  return ntohs(bound.sin_port);
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on `fd` until the deadline; false on timeout or error.
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, remaining_ms(deadline));
    if (ready > 0) return true;
    if (ready == 0 || errno != EINTR) return false;
  }
}

// A connected, non-blocking TCP socket, or -1.
int connect_tcp(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int connected = -1;
  for (const addrinfo* ai = found; ai != nullptr && connected < 0; ai = ai->ai_next) {
    Socket sock(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (sock.get() < 0) continue;
    if (::connect(sock.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS || !wait_for(sock.get(), POLLOUT, deadline)) continue;
      int error = 0;
      socklen_t size = sizeof error;
      if (::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0 || error != 0) continue;
    }
    connected = sock.release();
  }
  ::freeaddrinfo(found);
  return connected;
}

std::string sanitized(std::string_view text) {
  std::string out;
  for (char c : text) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    out += plain ? c : '_';
  }
  return out.substr(0, 80);
}

}  // namespace

std::filesystem::path host_binary() { return CHATHOST_BINARY; }
std::filesystem::path test_plugin_dir() { return CHATHOST_TEST_PLUGIN_DIR; }
std::filesystem::path source_dir() { return CHATHOST_SOURCE_DIR; }

std::uint16_t free_tcp_port() {
  TcpListener probe;  // bound, so the kernel has picked a port; closed on return
  return probe.port();
}

TcpListener::TcpListener(std::uint16_t port, bool reuse_address) {
  Socket sock(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) throw_errno("socket");
  const int on = 1;
  if (reuse_address && ::setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    throw_errno("setsockopt SO_REUSEADDR");
  }
  const sockaddr_in address = loopback(port);
  if (::bind(sock.get(), as_sockaddr(&address), sizeof address) != 0) {
    throw_errno("bind 127.0.0.1:" + std::to_string(port));
  }
  if (::listen(sock.get(), 16) != 0) throw_errno("listen");
  port_ = local_port(sock.get());
  fd_ = sock.release();
}

TcpListener::~TcpListener() {
  if (fd_ >= 0) ::close(fd_);
}

bool can_connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  Socket sock(connect_tcp(host, port, Clock::now() + timeout));
  return sock.get() >= 0;
}

std::optional<std::string> connect_and_read_line(const std::string& host, std::uint16_t port,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Socket sock(connect_tcp(host, port, deadline));
  if (sock.get() < 0) return std::nullopt;
  std::string text;
  std::array<char, 1024> buffer{};
  while (text.find('\n') == std::string::npos) {
    if (!wait_for(sock.get(), POLLIN, deadline)) break;
    const ssize_t n = ::recv(sock.get(), buffer.data(), buffer.size(), 0);
    if (n > 0) {
      text.append(buffer.data(), static_cast<std::size_t>(n));
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
      break;
    }
  }
  const std::size_t nl = text.find('\n');
  if (nl == std::string::npos && text.empty()) return std::nullopt;
  text.resize(std::min(nl, text.size()));
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

void write_file(const std::filesystem::path& path, std::string_view text) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::filesystem::path make_temp_dir() {
  std::string name = "chathost";
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += "-" + sanitized(std::string(info->test_suite_name()) + "." + info->name());
  }
  std::filesystem::path base = ::testing::TempDir();
  std::string pattern = (base / (name + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("mkdtemp " + pattern);
  return pattern;
}

TempDir::~TempDir() {
  if (::testing::Test::HasFailure()) return;  // kept for a look at what the test wrote
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace chathost::test

namespace chathost::test {

std::uint64_t resident_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // "VmRSS:   1234 kB"
  }
  return 0;
}

std::optional<double> find_metric(const std::string& exposition, const std::string& series) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

double metric(const std::string& exposition, const std::string& series) {
  return find_metric(exposition, series).value_or(0);
}

}  // namespace chathost::test
