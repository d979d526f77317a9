#include "auth/auth_config.hpp"

namespace chat::auth {
namespace {

constexpr std::string_view kSecretFileKey = "auth_secret_file";
constexpr std::string_view kLeewayKey = "auth_leeway_seconds";
constexpr std::string_view kMaxTtlKey = "max_token_ttl_seconds";
constexpr std::string_view kIssuerKey = "auth_issuer";
constexpr std::string_view kAudienceKey = "auth_audience";

}  // namespace

std::vector<chathost::ConfigKey> config_keys() {
  using chathost::ConfigKey;
  return {
      ConfigKey::string(std::string(kSecretFileKey), "",
                        "file holding the secret that signs bearer tokens (JWT, HS256, at least 32 bytes); "
                        "empty: no token authentication (development)")
          .env("AUTH_SECRET_FILE"),
      ConfigKey::integer(std::string(kLeewayKey), kDefaultLeeway.count(),
                         "clock difference allowed when checking a token's exp and nbf")
          .range(0, 300)
          .env("AUTH_LEEWAY_SECONDS"),
      ConfigKey::integer(std::string(kMaxTtlKey), kDefaultMaxTtl.count(),
                         "a token's exp may be at most this far ahead (every token needs one)")
          .range(60, 366LL * 24 * 3600)
          .env("AUTH_MAX_TOKEN_TTL_SECONDS"),
      ConfigKey::string(std::string(kIssuerKey), "", "set: a token's iss must be this").env("AUTH_ISSUER"),
      ConfigKey::string(std::string(kAudienceKey), "", "set: a token's aud must name this").env("AUTH_AUDIENCE"),
  };
}

std::shared_ptr<const TokenVerifier> load_token_verifier(const chathost::PluginConfig& config, spdlog::logger& log) {
  const std::string path = config.get_string(kSecretFileKey);
  if (path.empty()) return nullptr;
  auto file = read_secret_file(path);
  if (!file.error.empty()) config.reject(kSecretFileKey, file.error);
  if (file.readable_by_others) log.warn("the token secret file {} is readable by other users (chmod 600 it)", path);
  TokenPolicy policy;
  policy.leeway = std::chrono::seconds(config.get_int(kLeewayKey));
  policy.max_ttl = std::chrono::seconds(config.get_int(kMaxTtlKey));
  policy.issuer = config.get_string(kIssuerKey);
  policy.audience = config.get_string(kAudienceKey);
  log.info("token authentication on: secret from {} (leeway {} s, tokens valid {} s at most{}{})", path,
           policy.leeway.count(), policy.max_ttl.count(), policy.issuer.empty() ? "" : ", issuer " + policy.issuer,
           policy.audience.empty() ? "" : ", audience " + policy.audience);
  return std::make_shared<const TokenVerifier>(std::move(file.secret), std::move(policy));
}

}  // namespace chat::auth
