#include "service_auth/service_token.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace chat::service_auth {
namespace {

std::array<unsigned char, 32> sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

}  // namespace

ServiceToken::ServiceToken(std::string_view token) : digest_(sha256(token)) {}

bool ServiceToken::matches(std::string_view presented) const {
  if (presented.empty()) return false;
  const auto digest = sha256(presented);
  return CRYPTO_memcmp(digest.data(), digest_.data(), digest.size()) == 0;
}

bool ServiceToken::presented_in(std::string_view authorization) const {
  // "Bearer <token>", the scheme in any case (RFC 7235). The token is
  // everything after it: a token file may hold spaces, which a browser's
  // bearer token (chat::auth::presented_token) may not.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  const bool is_bearer = std::equal(kScheme.begin(), kScheme.end(), authorization.begin(), [](char a, char b) {
    return a == std::tolower(static_cast<unsigned char>(b));
  });
  if (!is_bearer) return false;
  auto token = authorization.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return !token.empty() && matches(token);
}

}  // namespace chat::service_auth
