#include "auth/jwt.hpp"

#include "chat_text.hpp"  // from chat_proto

#include <boost/json.hpp>
#include <jwt.h>  // libjwt: the JWS compact form, base64url and HMAC-SHA256
#include <openssl/crypto.h>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace chat::auth {
namespace {

// NumericDates beyond this (year 2255) do not fit Clock::time_point in
// nanoseconds; such an `exp` is as good as none.
constexpr double kLatestRepresentableSeconds = 9e9;

struct JwtFree {
  void operator()(jwt_t* jwt) const { jwt_free(jwt); }
};
using Jwt = std::unique_ptr<jwt_t, JwtFree>;

// libjwt hands out JSON texts it allocated.
std::string take_json(char* text) {
  if (text == nullptr) return {};
  std::string out(text);
  std::free(text);
  return out;
}

// The token as libjwt reads it, only if its HS signature is right under
// `key` (never empty: libjwt reads a token without a key unchecked).
Jwt read_verified(const std::string& token, std::string_view key) {
  if (key.empty()) return nullptr;
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                            static_cast<int>(key.size()));
  Jwt jwt(raw);
  return rc == 0 ? std::move(jwt) : nullptr;
}

// The token's parts as libjwt reads them without checking anything: good
// only for saying why a token was refused.
Jwt read_unverified(const std::string& token) {
  jwt_t* raw = nullptr;
  const int rc = jwt_decode(&raw, token.c_str(), nullptr, 0);
  Jwt jwt(raw);
  return rc == 0 ? std::move(jwt) : nullptr;
}

// Only the base64url alphabet and two dots. libjwt also reads '+' and '/',
// which would let one signed token be spelt several ways.
bool is_compact_form(std::string_view token) {
  int dots = 0;
  for (const char c : token) {
    if (c == '.') {
      ++dots;
    } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return false;
    }
  }
  return dots == 2;
}

TokenCheck refuse(TokenProblem problem) {
  TokenCheck check;
  check.problem = problem;
  check.error = std::string(describe(problem));
  return check;
}

// A JSON object, from a decoded part.
std::optional<boost::json::object> parse_object(std::string_view text) {
  boost::json::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// What the header must say, beyond what libjwt checks: exactly "HS256"
// (libjwt matches algorithm names without regard to case; RFC 7515 does
// not), and no extension we would have to understand (`crit`, RFC 7515
// section 4.1.11).
TokenProblem header_problem(jwt_t* jwt) {
  const auto header = parse_object(take_json(jwt_get_headers_json(jwt, nullptr)));
  if (!header) return TokenProblem::Malformed;
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256" || header->contains("crit")) {
    return TokenProblem::Algorithm;
  }
  if (const auto* typ = header->if_contains("typ"); typ != nullptr && !typ->is_string()) {
    return TokenProblem::Malformed;
  }
  return TokenProblem::None;
}

// Why a token that did not verify under our key was refused: unreadable,
// another algorithm, or a signature that is not ours.
TokenProblem refusal_of(const std::string& token) {
  const auto unverified = read_unverified(token);
  if (!unverified) return TokenProblem::Malformed;
  const auto problem = header_problem(unverified.get());
  return problem == TokenProblem::None ? TokenProblem::Signature : problem;
}

// A NumericDate (seconds since the epoch, possibly fractional) if `key` is
// present; an error when present but not a finite number.
struct NumericDate {
  bool present = false;
  bool valid = true;
  double seconds = 0;
};

NumericDate numeric_date(const boost::json::object& claims, std::string_view key) {
  const auto* value = claims.if_contains(key);
  if (value == nullptr) return {};
  if (!value->is_number()) return {.present = true, .valid = false};
  const double seconds = value->to_number<double>();
  return {.present = true, .valid = std::isfinite(seconds), .seconds = seconds};
}

}  // namespace

std::string_view describe(TokenProblem problem) {
  switch (problem) {
    case TokenProblem::None: return "";
    case TokenProblem::TooLong: return "token too long";
    case TokenProblem::Malformed: return "malformed token";
    case TokenProblem::Algorithm: return "unsupported token algorithm (HS256 only)";
    case TokenProblem::Signature: return "invalid token signature";
    case TokenProblem::Subject: return "token has no valid subject";
    case TokenProblem::Claims: return "invalid exp or nbf in token";
    case TokenProblem::Expired: return "token expired";
    case TokenProblem::NotYetValid: return "token not yet valid";
    case TokenProblem::NoExpiry: return "token has no exp";
    case TokenProblem::TooFarAhead: return "token expires too far ahead";
    case TokenProblem::Issuer: return "token has the wrong issuer";
    case TokenProblem::Audience: return "token is for another audience";
    case TokenProblem::Rooms: return "invalid rooms claim in token";
  }
  return "invalid token";
}

TokenVerifier::TokenVerifier(std::string secret, TokenPolicy policy)
    : secret_(std::move(secret)), policy_(std::move(policy)) {
  if (secret_.empty()) throw std::invalid_argument("a token secret must not be empty");
  if (policy_.leeway < std::chrono::seconds::zero()) {
    throw std::invalid_argument("a token leeway must not be negative");
  }
}

TokenVerifier::~TokenVerifier() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

TokenCheck TokenVerifier::verify(std::string_view token, Clock::time_point now) const {
  if (token.size() > kMaxTokenBytes) return refuse(TokenProblem::TooLong);
  if (!is_compact_form(token)) return refuse(TokenProblem::Malformed);

  // libjwt checks the signature before anything in the payload is believed.
  const std::string text(token);
  const auto jwt = read_verified(text, secret_);
  if (!jwt) return refuse(refusal_of(text));
  if (const auto problem = header_problem(jwt.get()); problem != TokenProblem::None) return refuse(problem);

  const auto claims = parse_object(take_json(jwt_get_grants_json(jwt.get(), nullptr)));
  if (!claims) return refuse(TokenProblem::Malformed);
  const auto* sub = claims->if_contains("sub");
  if (sub == nullptr || !sub->is_string()) return refuse(TokenProblem::Subject);
  const std::string_view subject = sub->get_string();
  if (subject.empty() || subject.size() > kMaxSubjectBytes || !chat::text::is_valid_utf8(subject)) {
    return refuse(TokenProblem::Subject);
  }

  const auto exp = numeric_date(*claims, "exp");
  const auto nbf = numeric_date(*claims, "nbf");
  if (!exp.valid || !nbf.valid) return refuse(TokenProblem::Claims);
  const double now_seconds = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double leeway = static_cast<double>(policy_.leeway.count());
  // RFC 7519: the current time must be before exp, and at or after nbf. A
  // token must end, and not in years: one that leaks is good only so long.
  if (!exp.present) return refuse(TokenProblem::NoExpiry);
  if (now_seconds >= exp.seconds + leeway) return refuse(TokenProblem::Expired);
  if (exp.seconds > now_seconds + static_cast<double>(policy_.max_ttl.count()) + leeway) {
    return refuse(TokenProblem::TooFarAhead);
  }
  if (nbf.present && now_seconds + leeway < nbf.seconds) return refuse(TokenProblem::NotYetValid);

  if (!policy_.issuer.empty()) {
    const auto* iss = claims->if_contains("iss");
    if (iss == nullptr || !iss->is_string() || iss->get_string() != policy_.issuer) {
      return refuse(TokenProblem::Issuer);
    }
  }
  if (!policy_.audience.empty()) {
    // RFC 7519 section 4.1.3: a string, or a list of them.
    const auto* aud = claims->if_contains("aud");
    bool named = aud != nullptr && aud->is_string() && aud->get_string() == policy_.audience;
    if (aud != nullptr && aud->is_array()) {
      for (const auto& entry : aud->get_array()) named = named || (entry.is_string() && entry.get_string() == policy_.audience);
    }
    if (!named) return refuse(TokenProblem::Audience);
  }

  TokenCheck check;
  if (const auto* rooms = claims->if_contains("rooms")) {
    auto grant = RoomGrant::from_claim(*rooms);
    if (!grant) return refuse(TokenProblem::Rooms);
    check.rooms = std::move(*grant);
  }
  check.subject = std::string(subject);
  if (exp.present && exp.seconds + leeway < kLatestRepresentableSeconds) {
    check.expires_at = Clock::time_point(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(exp.seconds + leeway)));
  }
  return check;
}

std::string mint_token(std::string_view secret, std::string_view subject,
                       std::optional<Clock::time_point> expires_at, Clock::time_point issued_at,
                       const TokenClaims& extra) {
  if (secret.empty()) throw std::invalid_argument("a token secret must not be empty");
  const auto seconds = [](Clock::time_point t) {
    return static_cast<long>(std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
  };
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) throw std::runtime_error("libjwt could not make a token");
  const Jwt jwt(raw);

  boost::json::object claims;
  claims["sub"] = subject;
  claims["iat"] = seconds(issued_at);
  if (expires_at) claims["exp"] = seconds(*expires_at);
  if (!extra.rooms.empty()) {
    boost::json::array rooms;
    for (const auto& room : extra.rooms) rooms.emplace_back(room);
    claims["rooms"] = std::move(rooms);
  }
  if (!extra.issuer.empty()) claims["iss"] = extra.issuer;
  if (!extra.audience.empty()) claims["aud"] = extra.audience;
  // libjwt refuses text that is not UTF-8, as the verifier would.
  if (jwt_add_grants_json(jwt.get(), boost::json::serialize(claims).c_str()) != 0) {
    throw std::invalid_argument("a token's subject, rooms, issuer and audience must be UTF-8");
  }
  if (jwt_set_alg(jwt.get(), JWT_ALG_HS256, reinterpret_cast<const unsigned char*>(secret.data()),
                  static_cast<int>(secret.size())) != 0) {
    throw std::runtime_error("libjwt refused the HS256 key");
  }
  std::unique_ptr<char, decltype(&std::free)> token(jwt_encode_str(jwt.get()), &std::free);
  if (!token) throw std::runtime_error("libjwt could not sign the token");
  return std::string(token.get());
}

}  // namespace chat::auth
