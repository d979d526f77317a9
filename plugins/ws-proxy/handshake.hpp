// The checks made on a WebSocket upgrade request before it is accepted:
// path, query (?user=...&room=...), Origin and the WebSocket key.
#pragma once

#include "auth/room_grant.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::proxy {

// What the request target asks for: "/" or "/ws", optionally
// ?user=<id>&room=<id> (percent-encoded). A room needs a user, from user= or
// from a token; the session checks that once it knows the token.
struct UpgradeTarget {
  std::string user;
  std::string room;
  chat::auth::RoomGrant rooms;  // the token's (every room without tokens)
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

// Whether `key` can be a Sec-WebSocket-Key: base64 of 16 bytes (RFC 6455 4.1).
bool valid_websocket_key(std::string_view key);

// The Sec-WebSocket-Accept answer to a Sec-WebSocket-Key: base64 of the
// SHA-1 of the key and the protocol's GUID (RFC 6455 4.2.2).
std::string websocket_accept(std::string_view key);

}  // namespace chat::proxy
