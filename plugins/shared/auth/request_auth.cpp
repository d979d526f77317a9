#include "auth/request_auth.hpp"

#include "auth/bearer_token.hpp"

namespace chat::auth {
namespace {

RequestAuth refusal(int status, std::string error, std::string_view code) {
  RequestAuth auth;
  auth.http_status = status;
  auth.www_authenticate = "Bearer realm=\"" + std::string(kRealm) + "\"";
  // RFC 6750 section 3.1: no error code when the request has no token at all.
  if (!code.empty()) {
    auth.www_authenticate += ", error=\"" + std::string(code) + "\", error_description=\"" + error + "\"";
  }
  auth.error = std::move(error);
  return auth;
}

}  // namespace

RequestAuth authenticate_request(const TokenVerifier& verifier, std::string_view authorization,
                                 std::string_view target, Clock::time_point now) {
  auto presented = presented_token(authorization, target);
  if (!presented.error.empty()) return refusal(400, std::move(presented.error), "invalid_request");
  if (!presented.token) {
    return refusal(401, "a bearer token is required (Authorization: Bearer <token>, or access_token=<token>)", "");
  }
  auto check = verifier.verify(*presented.token, now);
  if (!check.ok()) {
    auto auth = refusal(401, std::move(check.error), "invalid_token");
    auth.problem = check.problem;
    return auth;
  }
  RequestAuth auth;
  auth.subject = std::move(check.subject);
  auth.expires_at = check.expires_at;
  auth.rooms = std::move(check.rooms);
  return auth;
}

}  // namespace chat::auth
