// chat::auth::presented_token: where a request carries its bearer token
// (RFC 6750), and redact_access_token for logs.
#include "auth/bearer_token.hpp"

#include <gtest/gtest.h>

namespace chat::auth {
namespace {

TEST(PresentedToken, FromTheAuthorizationHeader) {
  EXPECT_EQ(presented_token("Bearer abc.def.ghi", "/history?room=a").token, "abc.def.ghi");
  EXPECT_EQ(presented_token("bearer abc.def.ghi", "/").token, "abc.def.ghi");  // the scheme is case-insensitive
  EXPECT_EQ(presented_token("  BEARER   abc.def.ghi  ", "/").token, "abc.def.ghi");
  EXPECT_TRUE(presented_token("Bearer abc", "/").error.empty());
}

TEST(PresentedToken, FromTheAccessTokenQueryParameter) {
  EXPECT_EQ(presented_token("", "/?user=alice&access_token=abc.def.ghi").token, "abc.def.ghi");
  EXPECT_EQ(presented_token("", "/ws?access_token=abc.def.ghi&room=lobby").token, "abc.def.ghi");
  EXPECT_EQ(presented_token("", "/history?access_token=a%2Eb.c").token, "a.b.c");  // percent-decoded
  // Names that merely contain it are other parameters.
  EXPECT_FALSE(presented_token("", "/?my_access_token=x&access_token_2=y").token);
}

TEST(PresentedToken, NoneWhenTheRequestCarriesNone) {
  for (const auto& [authorization, target] :
       std::vector<std::pair<std::string, std::string>>{{"", "/"}, {"", "/history?room=a"}, {"Basic dXNlcjpwdw==", "/"},
                                                        {"Bearerabc", "/"}, {"", "/?access_tokens=x"}}) {
    const auto presented = presented_token(authorization, target);
    EXPECT_FALSE(presented.token) << authorization << " " << target;
    EXPECT_TRUE(presented.error.empty()) << authorization << " " << target;
  }
}

TEST(PresentedToken, AnErrorForATokenThatCannotBeRead) {
  for (const auto& [authorization, target] : std::vector<std::pair<std::string, std::string>>{
           {"Bearer", "/"},                                 // empty
           {"Bearer   ", "/"},                              //
           {"Bearer a b", "/"},                             // two words
           {"", "/?access_token="},                         // empty
           {"", "/?access_token"},                          //
           {"", "/?access_token=%zz"},                      // bad escape
           {"", "/?access_token=a&access_token=b"},         // two tokens
           {"Bearer a", "/?access_token=a"},                // two methods (RFC 6750: one per request)
       }) {
    const auto presented = presented_token(authorization, target);
    EXPECT_FALSE(presented.token) << authorization << " " << target;
    EXPECT_FALSE(presented.error.empty()) << authorization << " " << target;
  }
}

TEST(RedactAccessToken, HidesTheTokenAndKeepsTheRest) {
  EXPECT_EQ(redact_access_token("/history?room=a&access_token=secret.parts.here&limit=5"),
            "/history?room=a&access_token=REDACTED&limit=5");
  EXPECT_EQ(redact_access_token("/?access_token=x&access_token=y"), "/?access_token=REDACTED&access_token=REDACTED");
  EXPECT_EQ(redact_access_token("/history?room=a"), "/history?room=a");
  EXPECT_EQ(redact_access_token("/"), "/");
  EXPECT_EQ(redact_access_token("/?a&&b="), "/?a&&b=");
}

}  // namespace
}  // namespace chat::auth
