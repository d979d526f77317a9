#include "auth/jwt.hpp"

#include "auth/base64url.hpp"
#include "chat_text.hpp"  // from chat_proto

#include <boost/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cmath>
#include <stdexcept>

namespace chat::auth {
namespace {

constexpr std::size_t kSignatureBytes = 32;  // SHA-256
// NumericDates beyond this (year 2255) do not fit Clock::time_point in
// nanoseconds; such an `exp` is as good as none.
constexpr double kLatestRepresentableSeconds = 9e9;

struct Signature {
  std::array<unsigned char, EVP_MAX_MD_SIZE> bytes{};
  unsigned int size = 0;
};

Signature hmac_sha256(std::string_view key, std::string_view data) {
  Signature out;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), out.bytes.data(), &out.size) == nullptr) {
    out.size = 0;
  }
  return out;
}

TokenCheck refuse(TokenProblem problem) {
  TokenCheck check;
  check.problem = problem;
  check.error = std::string(describe(problem));
  return check;
}

// A JSON object, from the decoded text of a part.
std::optional<boost::json::object> parse_object(std::string_view text) {
  boost::json::error_code ec;
  auto value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
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
  const auto first_dot = token.find('.');
  const auto second_dot = first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos || token.find('.', second_dot + 1) != std::string_view::npos) {
    return refuse(TokenProblem::Malformed);
  }
  const auto header_text = base64url_decode(token.substr(0, first_dot));
  const auto payload_text = base64url_decode(token.substr(first_dot + 1, second_dot - first_dot - 1));
  const auto signature = base64url_decode(token.substr(second_dot + 1));
  if (!header_text || !payload_text || !signature) return refuse(TokenProblem::Malformed);

  // The header decides how the rest is read: HS256, and no extension we
  // would have to understand (`crit`, RFC 7515 section 4.1.11).
  const auto header = parse_object(*header_text);
  if (!header) return refuse(TokenProblem::Malformed);
  const auto* alg = header->if_contains("alg");
  if (alg == nullptr || !alg->is_string() || alg->get_string() != "HS256" || header->contains("crit")) {
    return refuse(TokenProblem::Algorithm);
  }
  if (const auto* typ = header->if_contains("typ"); typ != nullptr && !typ->is_string()) {
    return refuse(TokenProblem::Malformed);
  }

  // The signature before anything in the payload is believed.
  const auto expected = hmac_sha256(secret_, token.substr(0, second_dot));
  if (expected.size != kSignatureBytes || signature->size() != kSignatureBytes ||
      CRYPTO_memcmp(expected.bytes.data(), signature->data(), kSignatureBytes) != 0) {
    return refuse(TokenProblem::Signature);
  }

  const auto claims = parse_object(*payload_text);
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

std::string sign_token(std::string_view secret, std::string_view header_json, std::string_view payload_json) {
  std::string token = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  const auto signature = hmac_sha256(secret, token);
  if (signature.size != kSignatureBytes) throw std::runtime_error("HMAC-SHA256 failed");
  token += '.';
  token += base64url_encode(std::string_view(reinterpret_cast<const char*>(signature.bytes.data()), signature.size));
  return token;
}

std::string mint_token(std::string_view secret, std::string_view subject,
                       std::optional<Clock::time_point> expires_at, Clock::time_point issued_at,
                       const TokenClaims& extra) {
  const auto seconds = [](Clock::time_point t) {
    return std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count();
  };
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
  return sign_token(secret, R"({"alg":"HS256","typ":"JWT"})", boost::json::serialize(claims));
}

}  // namespace chat::auth
