// Which web pages may read our responses from a browser: the request's Origin
// against the configured allowlist, by exact match.
//
//   "*"                       any origin, "null" included (development)
//   "null"                    pages opened from file:// (and sandboxed frames)
//   "https://chat.example.org" that origin only: scheme, host, port as the
//                             browser sends them (lowercase, no path)
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace chat::history_http {

class CorsPolicy {
 public:
  // The methods of the whole API, for preflights and 405s alike.
  static constexpr std::string_view kAllowedMethods = "GET, HEAD, OPTIONS";
  // Request headers a page may send cross-origin beyond the CORS-safelisted
  // ones: its bearer token, conditional requests and a JSON content type.
  static constexpr std::string_view kAllowedHeaders = "Authorization, Content-Type, If-None-Match";
  // Response headers a cross-origin page may read beyond the safelisted ones.
  static constexpr std::string_view kExposedHeaders = "ETag, Retry-After, WWW-Authenticate";

  CorsPolicy() = default;
  // Every entry must pass check_entry().
  explicit CorsPolicy(const std::vector<std::string>& allowed_origins);

  // Why `entry` cannot be in the allowlist, or "" when it can.
  static std::string check_entry(std::string_view entry);

  bool allows(std::string_view origin) const;

 private:
  bool any_ = false;
  std::set<std::string, std::less<>> origins_;
};

}  // namespace chat::history_http
