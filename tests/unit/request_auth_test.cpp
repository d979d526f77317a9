// chat::auth::authenticate_request: what a bridge answers a request, by the
// token it carries (RFC 6750 section 3).
#include "auth/request_auth.hpp"

#include <gtest/gtest.h>

namespace chat::auth {
namespace {

using namespace std::chrono_literals;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1795651200));

TEST(AuthenticateRequest, AValidTokenGivesItsSubjectAndExpiry) {
  const TokenVerifier verifier(kSecret, 5s);
  const auto token = mint_token(kSecret, "alice", kNow + 1h, kNow);
  for (const auto& [authorization, target] : std::vector<std::pair<std::string, std::string>>{
           {"Bearer " + token, "/"}, {"", "/?user=alice&access_token=" + token}}) {
    const auto auth = authenticate_request(verifier, authorization, target, kNow);
    ASSERT_TRUE(auth.ok()) << auth.error;
    EXPECT_EQ(auth.subject, "alice");
    EXPECT_EQ(auth.expires_at, kNow + 1h + 5s);
    EXPECT_TRUE(auth.www_authenticate.empty());
  }
}

TEST(AuthenticateRequest, NoTokenIsA401WithoutAnErrorCode) {
  const TokenVerifier verifier(kSecret);
  const auto auth = authenticate_request(verifier, "", "/?user=alice", kNow);
  EXPECT_EQ(auth.http_status, 401);
  EXPECT_EQ(auth.www_authenticate, "Bearer realm=\"chat-host\"");
  EXPECT_FALSE(auth.error.empty());
  EXPECT_EQ(auth.problem, TokenProblem::None);
}

TEST(AuthenticateRequest, ARefusedTokenIsA401InvalidTokenWithTheReason) {
  const TokenVerifier verifier(kSecret, 0s);
  const auto auth = authenticate_request(verifier, "", "/?access_token=" + mint_token(kSecret, "a", kNow - 1s, kNow),
                                         kNow);
  EXPECT_EQ(auth.http_status, 401);
  EXPECT_EQ(auth.problem, TokenProblem::Expired);
  EXPECT_EQ(auth.error, "token expired");
  EXPECT_EQ(auth.www_authenticate,
            "Bearer realm=\"chat-host\", error=\"invalid_token\", error_description=\"token expired\"");
}

TEST(AuthenticateRequest, TwoTokensAreA400InvalidRequest) {
  const TokenVerifier verifier(kSecret);
  const auto token = mint_token(kSecret, "alice", kNow + 1h, kNow);
  const auto auth = authenticate_request(verifier, "Bearer " + token, "/?access_token=" + token, kNow);
  EXPECT_EQ(auth.http_status, 400);
  EXPECT_NE(auth.www_authenticate.find("error=\"invalid_request\""), std::string::npos);
  EXPECT_EQ(auth.www_authenticate.find(token), std::string::npos);
}

}  // namespace
}  // namespace chat::auth
