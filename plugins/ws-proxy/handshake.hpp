// The checks made on a WebSocket upgrade request before it is accepted:
// path, query (?user=...&room=...) and Origin.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::proxy {

// What the request target asks for: "/" or "/ws", optionally
// ?user=<id>&room=<id> (percent-encoded).
struct UpgradeTarget {
  std::string user;
  std::string room;
};

// The target's meaning, or why it is refused (`error` set, for a 404 or 400).
struct TargetCheck {
  std::optional<UpgradeTarget> target;
  int http_status = 0;  // 404 unknown path, 400 bad query
  std::string error;
};

TargetCheck check_target(std::string_view target);

// An exact match against the allowlist, or "*" in it. A request without an
// Origin header does not come from a browser page and is not checked.
bool origin_allowed(std::string_view origin, bool has_origin, const std::vector<std::string>& allowed);

}  // namespace chat::proxy
