#include "upgrade_decision.hpp"

#include "auth/request_auth.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/status.hpp>

namespace chat::proxy {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

constexpr std::string_view kServerName = "chat-host ws-proxy";

bool has_token(std::string_view list, std::string_view token) {
  for (const auto& item : http::token_list(list)) {
    if (beast::iequals(item, token)) return true;
  }
  return false;
}

std::string switching_protocols(std::string_view key) {
  // No extension is agreed (permessage-deflate would cost every connection its zlib state).
  std::string answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";
  answer += "Sec-WebSocket-Accept: ";
  answer += websocket_accept(key);
  answer += "\r\nServer: ";
  answer += kServerName;
  answer += "\r\n\r\n";
  return answer;
}

}  // namespace

UpgradeDecision upgrade_refusal(unsigned status, std::string why, std::string_view extra_headers) {
  UpgradeDecision decision;
  decision.status = status;
  const std::string body = why + "\n";
  std::string& answer = decision.answer;
  answer = "HTTP/1.1 " + std::to_string(status) + " ";
  answer += http::obsolete_reason(static_cast<http::status>(status));
  answer += "\r\nServer: ";
  answer += kServerName;
  answer += "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ";
  answer += std::to_string(body.size());
  answer += "\r\nConnection: close\r\n";
  answer += extra_headers;
  answer += "\r\n";
  answer += body;
  decision.why = std::move(why);
  return decision;
}

UpgradeDecision decide_upgrade(const UpgradeRequest& request, const ProxyOptions& options) {
  if (!request.is_get || request.version < 11 || !has_token(request.connection, "upgrade") ||
      !has_token(request.upgrade, "websocket")) {
    return upgrade_refusal(426, "this is a WebSocket endpoint: connect with ws://",
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n");
  }
  TargetCheck check = check_target(request.target);
  if (!check.target) return upgrade_refusal(static_cast<unsigned>(check.http_status), check.error);
  UpgradeDecision accepted;
  if (options.token_verifier) {
    auto auth = chat::auth::authenticate_request(*options.token_verifier, request.authorization, request.target);
    if (!auth.ok()) {
      return upgrade_refusal(static_cast<unsigned>(auth.http_status), auth.error,
                     "WWW-Authenticate: " + auth.www_authenticate + "\r\n");
    }
    if (!check.target->user.empty() && check.target->user != auth.subject) {
      return upgrade_refusal(401, "user= is not the token's subject",
                     "WWW-Authenticate: Bearer realm=\"" + std::string(chat::auth::kRealm) + "\"\r\n");
    }
    check.target->user = std::move(auth.subject);
    check.target->rooms = std::move(auth.rooms);
    accepted.token_expires_at = auth.expires_at;
  }
  if (!check.target->room.empty() && check.target->user.empty()) {
    return upgrade_refusal(400, "room= needs user= (who joins the room)");
  }
  if (!check.target->room.empty() && !check.target->rooms.allows(check.target->room)) {
    return upgrade_refusal(403, "the token does not grant room '" + check.target->room + "'");
  }
  if (request.websocket_version != "13") {
    return upgrade_refusal(426, "WebSocket version 13 only", "Sec-WebSocket-Version: 13\r\n");
  }
  if (!valid_websocket_key(request.websocket_key)) return upgrade_refusal(400, "missing or malformed Sec-WebSocket-Key");
  if (!origin_allowed(request.origin.value_or(std::string_view{}), request.origin.has_value(),
                      options.allowed_origins)) {
    auto refused = upgrade_refusal(403, "origin not allowed");
    refused.why = "origin '" + std::string(*request.origin) + "' not allowed";
    return refused;
  }
  accepted.status = 101;
  accepted.answer = switching_protocols(request.websocket_key);
  accepted.target = std::move(check.target);
  return accepted;
}

}  // namespace chat::proxy
