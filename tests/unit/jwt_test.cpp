// chat::auth::TokenVerifier, on libjwt: published HS256 vectors, and every
// way a token can be wrong (tokens forged in tests/support, since libjwt
// writes only well-formed ones).
#include "auth/jwt.hpp"
#include "support/forged_tokens.hpp"

#include <gtest/gtest.h>

namespace chat::auth {
namespace {

using namespace std::chrono_literals;
using chat::test::base64url_decode;
using chat::test::base64url_encode;
using chat::test::sign_token;

const std::string kSecret = "0123456789abcdef0123456789abcdef-test-secret";
// 2026-11-26T00:00:00Z
const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1795651200));

std::int64_t unix_seconds(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

std::string payload_with(const std::string& members) { return "{" + members + "}"; }

// An exp an hour after kNow, as a member of a payload.
std::string exp_in_an_hour() { return R"("exp":)" + std::to_string(unix_seconds(kNow + 1h)); }

std::string token_with_payload(const std::string& payload) {
  return sign_token(kSecret, R"({"alg":"HS256","typ":"JWT"})", payload);
}

// The three dot-separated parts of a token.
std::vector<std::string> parts(const std::string& token) {
  const auto a = token.find('.');
  const auto b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}

TokenProblem problem_of(const std::string& token, const TokenVerifier& verifier) {
  return verifier.verify(token, kNow).problem;
}

// ---------------------------------------------------------------------------
// Published vectors

TEST(TokenVerifier, TheJwtIoExampleIsSignedRightButNeverEnds) {
  // The example token of jwt.io, HS256 with the secret "your-256-bit-secret".
  // Its signature and subject pass (they are checked first); it has no
  // exp, and a token that never ends is refused.
  const TokenVerifier verifier("your-256-bit-secret");
  const std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIy"
      "fQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  EXPECT_EQ(verifier.verify(token, kNow).problem, TokenProblem::NoExpiry);
  EXPECT_EQ(TokenVerifier("another secret").verify(token, kNow).problem, TokenProblem::Signature);
}

TEST(TokenVerifier, VerifiesTheSignatureOfRfc7515ExampleA1) {
  // RFC 7515 appendix A.1: its key (a JWK "k", base64url) and JWS. The
  // header has a CRLF and "typ" first; the payload has exp = 1300819380
  // (2011) and no "sub". The signature is right, so what is refused is
  // the subject, then (with one) the time.
  const auto key = base64url_decode(
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
  ASSERT_TRUE(key);
  ASSERT_EQ(key->size(), 64U);
  const TokenVerifier verifier(*key, 0s);
  const std::string token =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
      "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const auto before_exp = Clock::time_point(std::chrono::seconds(1300819379));
  EXPECT_EQ(verifier.verify(token, before_exp).problem, TokenProblem::Subject);

  // One byte of its signature changed: now the signature is what is wrong.
  auto tampered = token;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'X' ? 'Y' : 'X';
  EXPECT_EQ(verifier.verify(tampered, before_exp).problem, TokenProblem::Signature);

  // The same key signing the same claims plus a subject: valid until exp.
  const auto with_sub = sign_token(*key, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}",
                                   "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"sub\":\"joe\"}");
  auto check = verifier.verify(with_sub, before_exp);
  ASSERT_TRUE(check.ok()) << check.error;
  EXPECT_EQ(check.subject, "joe");
  ASSERT_TRUE(check.expires_at);
  EXPECT_EQ(unix_seconds(*check.expires_at), 1300819380);
  EXPECT_EQ(verifier.verify(with_sub, before_exp + 1s).problem, TokenProblem::Expired);  // at exp: expired
}

// ---------------------------------------------------------------------------
// Round trip

TEST(TokenVerifier, AcceptsWhatMintTokenIssues) {
  const TokenVerifier verifier(kSecret);
  const auto token = mint_token(kSecret, "alice", kNow + 1h, kNow);
  const auto check = verifier.verify(token, kNow);
  ASSERT_TRUE(check.ok()) << check.error;
  EXPECT_EQ(check.subject, "alice");
  ASSERT_TRUE(check.expires_at);
  // expires_at includes the leeway: the moment verify() starts refusing it.
  EXPECT_EQ(*check.expires_at, kNow + 1h + kDefaultLeeway);
  EXPECT_TRUE(verifier.verify(token, *check.expires_at - 1s).ok());
  EXPECT_EQ(verifier.verify(token, *check.expires_at).problem, TokenProblem::Expired);

  // UTF-8 subjects, and the longest one allowed.
  for (const auto& subject : std::vector<std::string>{"zoë", "用户", std::string(kMaxSubjectBytes, 'u')}) {
    const auto issued = mint_token(kSecret, subject, kNow + 1h, kNow);
    const auto result = verifier.verify(issued, kNow);
    ASSERT_TRUE(result.ok()) << subject << ": " << result.error;
    EXPECT_EQ(result.subject, subject);
  }
}

TEST(TokenVerifier, ATokenMustEndAndNotTooFarAhead) {
  const TokenVerifier verifier(kSecret);
  const auto forever = verifier.verify(mint_token(kSecret, "bob", std::nullopt, kNow), kNow);
  EXPECT_EQ(forever.problem, TokenProblem::NoExpiry);
  EXPECT_EQ(forever.error, "token has no exp");
  // 24 hours ahead at most by default (plus the leeway); the policy says how far.
  EXPECT_TRUE(verifier.verify(mint_token(kSecret, "bob", kNow + 24h, kNow), kNow).ok());
  EXPECT_EQ(verifier.verify(mint_token(kSecret, "bob", kNow + 25h, kNow), kNow).problem, TokenProblem::TooFarAhead);
  TokenPolicy week;
  week.max_ttl = 7 * 24h;
  const TokenVerifier weekly(kSecret, week);
  EXPECT_TRUE(weekly.verify(mint_token(kSecret, "bob", kNow + 25h, kNow), kNow).ok());
  EXPECT_EQ(weekly.verify(mint_token(kSecret, "bob", kNow + 24h * 3650, kNow), kNow).problem,
            TokenProblem::TooFarAhead);
}

TEST(TokenVerifier, IssuerAndAudienceAreCheckedWhenThePolicyNamesThem) {
  TokenPolicy policy;
  policy.issuer = "chat.example.org";
  policy.audience = "chat-host";
  const TokenVerifier strict(kSecret, policy);
  const auto with = [](std::string issuer, std::string audience) {
    return mint_token(kSecret, "alice", kNow + 1h, kNow,
                      TokenClaims{.rooms = {}, .issuer = std::move(issuer), .audience = std::move(audience)});
  };
  EXPECT_TRUE(strict.verify(with("chat.example.org", "chat-host"), kNow).ok());
  EXPECT_EQ(strict.verify(with("evil.example", "chat-host"), kNow).problem, TokenProblem::Issuer);
  EXPECT_EQ(strict.verify(with("", "chat-host"), kNow).problem, TokenProblem::Issuer);
  EXPECT_EQ(strict.verify(with("chat.example.org", "another-app"), kNow).problem, TokenProblem::Audience);
  EXPECT_EQ(strict.verify(with("chat.example.org", ""), kNow).problem, TokenProblem::Audience);
  // aud may be a list that names it.
  const auto listed = token_with_payload(payload_with(R"("sub":"a","iss":"chat.example.org","aud":["x","chat-host"],)" +
                                                      exp_in_an_hour()));
  EXPECT_TRUE(strict.verify(listed, kNow).ok());
  // Without them in the policy, iss and aud are whatever they are.
  EXPECT_TRUE(TokenVerifier(kSecret).verify(with("anyone", "anything"), kNow).ok());
}

TEST(TokenVerifier, TheRoomsClaimGrantsItsNamesAndPrefixesAndNoClaimGrantsEveryRoom) {
  const TokenVerifier verifier(kSecret);
  const auto rooms = [&](const std::vector<std::string>& names) {
    return verifier.verify(mint_token(kSecret, "alice", kNow + 1h, kNow, TokenClaims{.rooms = names, .issuer = "", .audience = ""}), kNow);
  };
  const auto team = rooms({"lobby", "team-*"});
  ASSERT_TRUE(team.ok()) << team.error;
  EXPECT_TRUE(team.rooms.allows("lobby"));
  EXPECT_TRUE(team.rooms.allows("team-red"));
  EXPECT_TRUE(team.rooms.allows("team-"));
  EXPECT_FALSE(team.rooms.allows("lobby2"));
  EXPECT_FALSE(team.rooms.allows("private-ceo"));
  EXPECT_FALSE(team.rooms.allows("tea"));
  EXPECT_TRUE(rooms({"*"}).rooms.allows("private-ceo"));
  EXPECT_TRUE(verifier.verify(mint_token(kSecret, "alice", kNow + 1h, kNow), kNow).rooms.allows("private-ceo"));
  // A claim that is not a list of names is refused, not read as "every room".
  const std::string too_long_name = "[\"" + std::string(200, 'r') + "\"]";
  for (const std::string& claim : std::vector<std::string>{R"("lobby")", "[]", "[1]", R"([""])", "{}", "null", too_long_name}) {
    EXPECT_EQ(problem_of(token_with_payload(payload_with(R"("sub":"a","rooms":)" + claim + "," + exp_in_an_hour())),
                         verifier),
              TokenProblem::Rooms)
        << claim;
  }
}

TEST(MintToken, RefusesTextThatIsNotUtf8AndAnEmptySecret) {
  EXPECT_THROW(mint_token(kSecret, "\xC0\xAF", kNow + 1h, kNow), std::invalid_argument);
  EXPECT_THROW(mint_token(kSecret, "alice", kNow + 1h, kNow, {.rooms = {"\xFF"}, .issuer = "", .audience = ""}), std::invalid_argument);
  EXPECT_THROW(mint_token("", "alice", kNow + 1h, kNow), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// Refusals

TEST(TokenVerifier, RefusesATamperedPayload) {
  const TokenVerifier verifier(kSecret);
  const auto token = parts(mint_token(kSecret, "alice", kNow + 1h, kNow));
  // The payload re-encoded for another subject, the signature kept.
  const auto forged = token[0] + "." +
                      base64url_encode(R"({"sub":"admin","iat":)" + std::to_string(unix_seconds(kNow)) +
                                       R"(,"exp":)" + std::to_string(unix_seconds(kNow + 1h)) + "}") +
                      "." + token[2];
  EXPECT_EQ(problem_of(forged, verifier), TokenProblem::Signature);
  // A later exp, same signature.
  const auto extended = token[0] + "." +
                        base64url_encode(R"({"sub":"alice","iat":)" + std::to_string(unix_seconds(kNow)) +
                                         R"(,"exp":)" + std::to_string(unix_seconds(kNow + 24h)) + "}") +
                        "." + token[2];
  EXPECT_EQ(problem_of(extended, verifier), TokenProblem::Signature);
}

TEST(TokenVerifier, RefusesATamperedSignature) {
  const TokenVerifier verifier(kSecret);
  const auto token = mint_token(kSecret, "alice", kNow + 1h, kNow);
  const auto p = parts(token);
  auto signature = *base64url_decode(p[2]);
  signature[0] = static_cast<char>(signature[0] ^ 1);
  EXPECT_EQ(problem_of(p[0] + "." + p[1] + "." + base64url_encode(signature), verifier), TokenProblem::Signature);
  // Truncated, empty, or one byte too long.
  EXPECT_EQ(problem_of(p[0] + "." + p[1] + "." + base64url_encode(signature.substr(0, 31)), verifier),
            TokenProblem::Signature);
  EXPECT_EQ(problem_of(p[0] + "." + p[1] + ".", verifier), TokenProblem::Signature);
  EXPECT_EQ(problem_of(p[0] + "." + p[1] + "." + base64url_encode(*base64url_decode(p[2]) + "x"), verifier),
            TokenProblem::Signature);
}

TEST(TokenVerifier, RefusesATokenSignedWithAnotherSecret) {
  const TokenVerifier verifier(kSecret);
  const auto token = mint_token("another secret of at least thirty-two bytes", "alice", kNow + 1h, kNow);
  const auto check = verifier.verify(token, kNow);
  EXPECT_EQ(check.problem, TokenProblem::Signature);
  EXPECT_EQ(check.error, "invalid token signature");
  EXPECT_TRUE(check.subject.empty());
}

TEST(TokenVerifier, RefusesAlgNone) {
  const TokenVerifier verifier(kSecret);
  const std::string claims = R"({"sub":"admin"})";
  // Unsigned, as "none" means, and with a signature of ours copied in.
  const auto unsigned_token = base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + base64url_encode(claims) + ".";
  EXPECT_EQ(problem_of(unsigned_token, verifier), TokenProblem::Algorithm);
  const auto signed_none = sign_token(kSecret, R"({"alg":"none"})", claims);
  EXPECT_EQ(problem_of(signed_none, verifier), TokenProblem::Algorithm);
  for (const std::string header : {R"({"alg":"None"})", R"({"alg":"NONE"})", R"({"alg":"hs256"})"}) {
    EXPECT_EQ(problem_of(sign_token(kSecret, header, claims), verifier), TokenProblem::Algorithm) << header;
  }
}

TEST(TokenVerifier, RefusesOtherAlgorithmsAMissingAlgAndCrit) {
  const TokenVerifier verifier(kSecret);
  const std::string claims = payload_with(R"("sub":"alice",)" + exp_in_an_hour());
  for (const std::string header :
       {R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"HS384"})", R"({"alg":"RS256"})", R"({"alg":"ES256"})",
        R"({"alg":"HS256","crit":["exp"],"exp":1})"}) {
    const auto check = verifier.verify(sign_token(kSecret, header, claims), kNow);
    EXPECT_EQ(check.problem, TokenProblem::Algorithm) << header;
    EXPECT_EQ(check.error, "unsupported token algorithm (HS256 only)");
  }
  // A header without a readable alg is not a JWS at all.
  for (const std::string header : {R"({"typ":"JWT"})", R"({})", R"({"alg":null})", R"({"alg":["HS256"]})"}) {
    EXPECT_EQ(problem_of(sign_token(kSecret, header, claims), verifier), TokenProblem::Malformed) << header;
  }
  // typ is optional; when given, it is the string JWT (RFC 7519 section 5.1,
  // in any case, as libjwt reads it).
  EXPECT_TRUE(verifier.verify(sign_token(kSecret, R"({"alg":"HS256"})", claims), kNow).ok());
  EXPECT_TRUE(verifier.verify(sign_token(kSecret, R"({"alg":"HS256","typ":"jwt"})", claims), kNow).ok());
  for (const std::string header : {R"({"alg":"HS256","typ":1})", R"({"alg":"HS256","typ":"at+jwt"})"}) {
    EXPECT_EQ(problem_of(sign_token(kSecret, header, claims), verifier), TokenProblem::Malformed) << header;
  }
}

TEST(TokenVerifier, RefusesBadBase64AndBadStructure) {
  const TokenVerifier verifier(kSecret);
  const auto token = mint_token(kSecret, "alice", kNow + 1h, kNow);
  const auto p = parts(token);
  for (const auto& bad : std::vector<std::string>{
           p[0] + "=." + p[1] + "." + p[2],                 // padding
           p[0] + "." + p[1] + "." + p[2] + "=",            //
           p[0] + "." + p[1] + "+" + "." + p[2],            // base64, not base64url
           p[0] + "." + p[1] + "." + p[2].substr(0, 10) + "/" + p[2].substr(11),
           p[0] + "." + p[1] + " ." + p[2],                 // whitespace
           p[0] + "." + p[1] + "\n." + p[2],
           p[0] + "." + p[1].substr(0, p[1].size() - 1) + "%" + "." + p[2],
           p[0] + "." + p[1] + "." + p[2] + "." + p[2],     // four parts
           p[0] + "." + p[1],                               // two parts
           p[0] + p[1] + p[2],                              // one
           std::string(),                                   //
           "..",                                            //
           "." + p[1] + "." + p[2],                         // no header
           base64url_encode("not json") + "." + p[1] + "." + p[2],
           base64url_encode(R"(["alg","HS256"])") + "." + p[1] + "." + p[2],
       }) {
    EXPECT_EQ(problem_of(bad, verifier), TokenProblem::Malformed) << bad;
  }
  // A signature spelt with nonzero unused bits in its last character
  // decodes to the same bytes in lax decoders; not here.
  auto respelt = p[2];
  respelt.back() = respelt.back() == 'A' ? 'B' : static_cast<char>(respelt.back() + 1);
  EXPECT_NE(problem_of(p[0] + "." + p[1] + "." + respelt, verifier), TokenProblem::None);
  // A payload that is not a JSON object, correctly signed.
  for (const std::string payload : {"not json", "[1,2]", "\"alice\"", ""}) {
    EXPECT_EQ(problem_of(token_with_payload(payload), verifier), TokenProblem::Malformed) << payload;
  }
}

TEST(TokenVerifier, RefusesAMissingOrBadSubject) {
  const TokenVerifier verifier(kSecret);
  for (const auto& payload : std::vector<std::string>{
           R"({})", R"({"name":"alice"})", R"({"sub":""})", R"({"sub":42})", R"({"sub":null})", R"({"sub":["a"]})",
        R"({"sub":{"id":"alice"}})", "{\"sub\":\"" + std::string(kMaxSubjectBytes + 1, 'u') + "\"}",
        std::string("{\"sub\":\"\xC0\xAF\"}")}) {
    const auto check = verifier.verify(token_with_payload(payload), kNow);
    EXPECT_TRUE(check.problem == TokenProblem::Subject || check.problem == TokenProblem::Malformed) << payload;
    EXPECT_FALSE(check.ok()) << payload;
  }
  EXPECT_EQ(problem_of(token_with_payload(R"({"name":"alice"})"), verifier), TokenProblem::Subject);
}

TEST(TokenVerifier, RefusesAnExpiredToken) {
  const TokenVerifier verifier(kSecret, 0s);
  const auto expired = mint_token(kSecret, "alice", kNow - 1s, kNow - 1h);
  const auto check = verifier.verify(expired, kNow);
  EXPECT_EQ(check.problem, TokenProblem::Expired);
  EXPECT_EQ(check.error, "token expired");
  EXPECT_TRUE(check.subject.empty());
  // The leeway forgives a clock difference, no more.
  EXPECT_TRUE(TokenVerifier(kSecret, 30s).verify(expired, kNow).ok());
  EXPECT_EQ(TokenVerifier(kSecret, 30s).verify(mint_token(kSecret, "alice", kNow - 31s, kNow - 1h), kNow).problem,
            TokenProblem::Expired);
  // Fractional NumericDates work; other types do not.
  EXPECT_TRUE(verifier.verify(token_with_payload(payload_with(R"("sub":"a","exp":)" +
                                                              std::to_string(unix_seconds(kNow)) + ".5")),
                              kNow)
                  .ok());
  for (const std::string exp : {R"("tomorrow")", "null", "true", "[1]", R"("1800000000")"}) {
    EXPECT_EQ(problem_of(token_with_payload(payload_with(R"("sub":"a","exp":)" + exp)), verifier),
              TokenProblem::Claims)
        << exp;
  }
}

TEST(TokenVerifier, RefusesATokenNotYetValid) {
  const TokenVerifier verifier(kSecret, 0s);
  const auto later = token_with_payload(
      payload_with(R"("sub":"a","nbf":)" + std::to_string(unix_seconds(kNow + 60s)) + "," + exp_in_an_hour()));
  const auto check = verifier.verify(later, kNow);
  EXPECT_EQ(check.problem, TokenProblem::NotYetValid);
  EXPECT_EQ(check.error, "token not yet valid");
  EXPECT_TRUE(verifier.verify(later, kNow + 60s).ok());
  EXPECT_TRUE(TokenVerifier(kSecret, 60s).verify(later, kNow).ok());
  EXPECT_EQ(problem_of(token_with_payload(R"({"sub":"a","nbf":"soon"})"), verifier), TokenProblem::Claims);
}

TEST(TokenVerifier, RefusesATooLongTokenBeforeLookingAtIt) {
  const TokenVerifier verifier(kSecret);
  // Correctly signed, just too long.
  const auto long_token =
      token_with_payload(R"({"sub":"alice","pad":")" + std::string(kMaxTokenBytes, 'x') + "\"}");
  EXPECT_EQ(problem_of(long_token, verifier), TokenProblem::TooLong);
  EXPECT_EQ(problem_of(std::string(kMaxTokenBytes + 1, 'a'), verifier), TokenProblem::TooLong);
  const auto fits =
      token_with_payload(R"({"sub":"alice",)" + exp_in_an_hour() + R"(,"pad":")" + std::string(kMaxTokenBytes / 2, 'x') + "\"}");
  EXPECT_TRUE(verifier.verify(fits, kNow).ok());
}

TEST(TokenVerifier, ReasonsNeverQuoteTheToken) {
  const TokenVerifier verifier(kSecret, 0s);
  for (const auto& token : std::vector<std::string>{mint_token(kSecret, "alice", kNow - 1h, kNow - 2h), mint_token("x", "alice", kNow, kNow),
                            std::string("abc.def.ghi")}) {
    const auto check = verifier.verify(token, kNow);
    ASSERT_FALSE(check.ok());
    EXPECT_EQ(check.error, describe(check.problem));
    EXPECT_EQ(check.error.find(parts(token)[1]), std::string::npos);
    EXPECT_EQ(check.error.find('"'), std::string::npos);  // fits a quoted-string of WWW-Authenticate
  }
}

}  // namespace
}  // namespace chat::auth
