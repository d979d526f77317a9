// Whether a WebSocket upgrade request is accepted, decided from the request
// and the proxy's options alone (no socket, no clock but the token's), so
// that every rule is tested without a connection: the method and upgrade
// headers, the path and query, the bearer token and the rooms it grants,
// the WebSocket version and key, and the Origin. The answer is the whole
// HTTP response the session writes: 101 with Sec-WebSocket-Accept, or a
// refusal with its status, headers and a one-line body.
#pragma once

#include "handshake.hpp"
#include "proxy_options.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace chat::proxy {

// The parts of the request the decision reads (the session takes them from
// Beast's parser). Absent headers are empty, but for `origin`: a request
// without an Origin header is not from a browser page and is not checked.
struct UpgradeRequest {
  bool is_get = false;
  unsigned version = 11;  // 11: HTTP/1.1
  std::string_view target;
  std::string_view connection;
  std::string_view upgrade;
  std::string_view authorization;
  std::string_view websocket_version;
  std::string_view websocket_key;
  std::optional<std::string_view> origin;
};

struct UpgradeDecision {
  // Accepted: what the connection is (its user, room and the rooms its
  // token grants), and when its token expires, if it does.
  std::optional<UpgradeTarget> target;
  std::optional<std::chrono::system_clock::time_point> token_expires_at;
  // The response to write: "HTTP/1.1 101 ..." or the refusal.
  std::string answer;
  unsigned status = 0;  // 101, or the refusal's
  std::string why;      // a refusal's reason, for the debug log
};

UpgradeDecision decide_upgrade(const UpgradeRequest& request, const ProxyOptions& options);

// A refusal made before there is a request to decide on (431: its headers
// are too large to read). `extra_headers`: whole lines, each ending "\r\n".
UpgradeDecision upgrade_refusal(unsigned status, std::string why, std::string_view extra_headers = {});

}  // namespace chat::proxy
