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
