#include "cors_policy.hpp"

#include "host_port.hpp"

namespace chat::history_http {

CorsPolicy::CorsPolicy(const std::vector<std::string>& allowed_origins) {
  for (const auto& origin : allowed_origins) {
    if (origin == "*") {
      any_ = true;
    } else {
      origins_.insert(origin);
    }
  }
}

std::string CorsPolicy::check_entry(std::string_view entry) {
  if (entry == "*" || entry == "null") return {};
  // The serialization browsers send: scheme "://" host [":" port], lowercase.
  if (is_origin(entry)) return {};
  const std::string text(entry);
  if (text.find("://") == std::string::npos) return "\"" + text + "\" is not an origin: expected scheme://host[:port]";
  if (text.back() == '/') return "\"" + text + "\": an origin has no path (remove the trailing /)";
  for (char c : text) {
    if (c >= 'A' && c <= 'Z') return "\"" + text + "\": write origins in lowercase, as browsers send them";
  }
  return "\"" + text + "\" is not an origin: expected scheme://host[:port], \"null\" or \"*\"";
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  return any_ || origins_.find(origin) != origins_.end();
}

}  // namespace chat::history_http
