// Reading the token secret from its file, the same way for the plugins and
// for chat-token: the file's bytes, without one trailing line break (which
// `echo` and editors add), at least kMinSecretBytes of them.
#pragma once

#include <cstddef>
#include <string>

namespace chat::auth {

// HMAC-SHA256 keys shorter than its output add no strength (RFC 7518 section
// 3.2 requires at least 256 bits).
inline constexpr std::size_t kMinSecretBytes = 32;
// A secret file larger than this is a mistake (a wrong path), not a key.
inline constexpr std::size_t kMaxSecretFileBytes = 64 * 1024;

struct SecretFile {
  std::string secret;              // when error is empty
  std::string error;               // why the file gives no usable secret, naming the file
  bool readable_by_others = false; // group or other permission bits set
};

SecretFile read_secret_file(const std::string& path);

}  // namespace chat::auth
