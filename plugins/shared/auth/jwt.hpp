// Bearer tokens: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (JWS
// "HS256", RFC 7515), checked against one shared secret. The token's subject
// (`sub`) is who the request or connection is; `exp` (required, at most
// TokenPolicy::max_ttl ahead) and `nbf` bound when it counts; `iss` and
// `aud` are checked when the policy names them; `rooms` (room_grant.hpp)
// says which rooms it opens. Nothing else is accepted: no other algorithm,
// "none" least of all. The JWS form, base64url and HMAC are libjwt's
// (Debian's libjwt-dev); what the claims must say is ours.
//
//   const chat::auth::TokenVerifier verifier(secret);
//   const auto check = verifier.verify(token);
//   if (!check.ok()) refuse(check.error);        // 401, never echoing the token
//   user = check.subject;
//   if (check.expires_at) end_session_at(*check.expires_at);
#pragma once

#include "auth/room_grant.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::auth {

using Clock = std::chrono::system_clock;

// Longer tokens are refused before any work is done on them.
inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;
// As chat ids: 1..128 bytes of UTF-8.
inline constexpr std::size_t kMaxSubjectBytes = 128;
// Allowed clock difference between the token's issuer and this host, applied
// to `exp` and `nbf`.
inline constexpr std::chrono::seconds kDefaultLeeway{30};

// Longest a token may be valid for, from now, by default.
inline constexpr std::chrono::seconds kDefaultMaxTtl{24 * 3600};

enum class TokenProblem {
  None,
  TooLong,      // over kMaxTokenBytes
  Malformed,    // not three base64url parts of JSON objects, or a typ other than JWT
  Algorithm,    // alg is not HS256 (or missing), or a `crit` header
  Signature,    // not signed with our secret
  Subject,      // sub missing, not a string, empty, too long, not UTF-8
  Claims,       // exp or nbf not a number
  Expired,      // exp (plus leeway) has passed
  NotYetValid,  // nbf (minus leeway) has not come yet
  NoExpiry,     // no exp: a token must end
  TooFarAhead,  // exp further ahead than the policy's max_ttl
  Issuer,       // iss is not the policy's issuer
  Audience,     // aud does not name the policy's audience
  Rooms,        // a `rooms` claim that is not a list of room names and patterns
};

// What a valid token must say beyond its signature.
struct TokenPolicy {
  std::chrono::seconds leeway = kDefaultLeeway;  // on exp and nbf
  std::chrono::seconds max_ttl = kDefaultMaxTtl;  // exp at most this far ahead (plus leeway)
  std::string issuer;    // set: `iss` must be it
  std::string audience;  // set: `aud` (a string, or a list) must name it
};

// A short English reason, safe to show to the client and to log: it never
// contains any part of the token.
std::string_view describe(TokenProblem problem);

struct TokenCheck {
  TokenProblem problem = TokenProblem::None;
  std::string error;    // describe(problem); empty when ok()
  std::string subject;  // the user id, when ok()
  // When ok() and the token has `exp`: the moment verify() starts refusing
  // it (exp plus the leeway). A connection authenticated by it ends then.
  std::optional<Clock::time_point> expires_at;
  // When ok(): the rooms it opens (every room without a `rooms` claim).
  RoomGrant rooms;

  bool ok() const { return problem == TokenProblem::None; }
};

class TokenVerifier {
 public:
  // `secret`: the HMAC key, used as it is (bytes). Its length is the
  // configuration's business (load_token_verifier wants 32 bytes at least).
  explicit TokenVerifier(std::string secret, TokenPolicy policy = {});
  // The default policy with another leeway.
  TokenVerifier(std::string secret, std::chrono::seconds leeway)
      : TokenVerifier(std::move(secret), with_leeway(leeway)) {}
  ~TokenVerifier();  // wipes the secret from memory
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Thread-safe (const, no shared state).
  TokenCheck verify(std::string_view token, Clock::time_point now = Clock::now()) const;

  std::chrono::seconds leeway() const { return policy_.leeway; }
  const TokenPolicy& policy() const { return policy_; }

 private:
  static TokenPolicy with_leeway(std::chrono::seconds leeway) {
    TokenPolicy policy;
    policy.leeway = leeway;
    return policy;
  }

  std::string secret_;
  TokenPolicy policy_;
};

// What a minted token says beyond its subject and times.
struct TokenClaims {
  std::vector<std::string> rooms;  // empty: no `rooms` claim (every room)
  std::string issuer;              // empty: no `iss`
  std::string audience;            // empty: no `aud`
};

// A token for `subject`: {"alg":"HS256","typ":"JWT"} and
// {"sub":subject,"iat":issued_at[,"exp":expires_at][,"rooms":[...]][,"iss":..][,"aud":..]},
// times in whole seconds, signed by libjwt. Throws std::invalid_argument
// when a text is not UTF-8 or the secret is empty.
std::string mint_token(std::string_view secret, std::string_view subject,
                       std::optional<Clock::time_point> expires_at, Clock::time_point issued_at = Clock::now(),
                       const TokenClaims& claims = {});

}  // namespace chat::auth
