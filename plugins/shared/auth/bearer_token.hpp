// Where a request carries its bearer token (RFC 6750): the `Authorization:
// Bearer <token>` header, or the `access_token` query parameter. Browsers
// cannot set headers on a WebSocket upgrade, so the web client uses the
// query for the WebSocket and the header for history.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chat::auth {

struct PresentedToken {
  // The token, percent-decoded when it came in the query; nullopt when the
  // request carries none (no header, or one of another scheme such as Basic).
  std::optional<std::string> token;
  // Set (and no token) when the request tries but fails to carry one: an
  // empty token, a bad %-escape, or more than one token (RFC 6750 allows
  // one method per request). Safe to show: it never quotes the token.
  std::string error;
};

// `authorization`: the Authorization header's value, empty when absent.
// `target`: the request target ("/history?room=a&access_token=..."); only
// its query is read.
PresentedToken presented_token(std::string_view authorization, std::string_view target);

// `target` with the value of every access_token parameter replaced by
// "REDACTED", for logs: a token in a log is a login for whoever reads it.
std::string redact_access_token(std::string_view target);

}  // namespace chat::auth
