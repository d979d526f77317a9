#include "auth/secret_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace chat::auth {
namespace {

// Closes the descriptor however the reading ends.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

SecretFile failed(std::string why) { return {.secret = {}, .error = std::move(why)}; }

}  // namespace

SecretFile read_secret_file(const std::string& path) {
  const auto cannot_read = [&path] { return failed("cannot read the secret file " + path + ": " + std::strerror(errno)); };
  const FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) return cannot_read();
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) return cannot_read();
  if (!S_ISREG(info.st_mode)) return failed(path + " is not a regular file (expected a file holding the token secret)");
  if (static_cast<std::uint64_t>(info.st_size) > kMaxSecretFileBytes) {
    return failed(path + " is larger than " + std::to_string(kMaxSecretFileBytes / 1024) + " KiB: not a token secret");
  }

  SecretFile result;
  result.readable_by_others = (info.st_mode & (S_IRWXG | S_IRWXO)) != 0;
  std::string& secret = result.secret;
  secret.resize(static_cast<std::size_t>(info.st_size));
  std::size_t got = 0;
  while (got < secret.size()) {
    const auto n = ::read(file.get(), secret.data() + got, secret.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return cannot_read();
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  secret.resize(got);
  if (!secret.empty() && secret.back() == '\n') secret.pop_back();
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.size() < kMinSecretBytes) {
    return failed("the secret in " + path + " is " + std::to_string(secret.size()) + " bytes; at least " +
                  std::to_string(kMinSecretBytes) + " are needed (e.g. openssl rand -base64 48 > " + path + ")");
  }
  return result;
}

}  // namespace chat::auth
