// One request's authentication, as ws-proxy (on the upgrade) and
// history-http (on /history) both do it: find the token (bearer_token.hpp),
// verify it (jwt.hpp), and on refusal say what to answer (RFC 6750 section 3).
//
//   const auto auth = chat::auth::authenticate_request(*verifier, req[http::field::authorization], req.target());
//   if (!auth.ok()) return refuse(auth.http_status, auth.www_authenticate, auth.error);
//   user = auth.subject;  // and, if auth.expires_at, end the session then
#pragma once

#include "auth/jwt.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace chat::auth {

// The protection space named in every challenge.
inline constexpr std::string_view kRealm = "chat-host";

struct RequestAuth {
  std::string subject;                           // the user, when ok()
  std::optional<Clock::time_point> expires_at;   // when ok() and the token has exp (leeway included)
  RoomGrant rooms;                               // when ok(): the rooms the token opens
  int http_status = 0;                           // 0 when ok(); else 401, or 400 for a request carrying tokens wrongly
  std::string error;                             // why, for the answer's body and the log; never quotes the token
  std::string www_authenticate;                  // the WWW-Authenticate value to send with the refusal
  TokenProblem problem = TokenProblem::None;     // when a token was presented and refused

  bool ok() const { return http_status == 0; }
};

// `authorization`: the Authorization header (empty when absent); `target`:
// the request target, whose access_token parameter may hold the token.
//   no token                 401, Bearer realm="chat-host"
//   a token refused          401, ..., error="invalid_token", error_description="<reason>"
//   two tokens, an empty one 400, ..., error="invalid_request", error_description="<reason>"
RequestAuth authenticate_request(const TokenVerifier& verifier, std::string_view authorization,
                                 std::string_view target, Clock::time_point now = Clock::now());

}  // namespace chat::auth
