// The shared service token: a secret that the bridges (ws-proxy,
// history-http) present to the chat service on every call, as
// `authorization: Bearer <token>` metadata, and that grpc-chat compares
// with its own copy in constant time. Whoever presents it may speak for
// many users on one stream; docs/security.md says how to make and rotate it.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace chat::service_auth {

// The metadata key, lower case as gRPC wants it.
inline constexpr std::string_view kAuthorizationKey = "authorization";

class ServiceToken {
 public:
  // Keeps the token's SHA-256 only: comparing digests takes the same time
  // whatever the presented token's length or first differing byte.
  explicit ServiceToken(std::string_view token);

  bool matches(std::string_view presented) const;
  // Whether an `authorization` value presents it: "Bearer <token>".
  bool presented_in(std::string_view authorization) const;

 private:
  std::array<unsigned char, 32> digest_{};
};

}  // namespace chat::service_auth
