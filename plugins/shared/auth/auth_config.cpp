#include "auth/auth_config.hpp"

namespace chat::auth {
namespace {

// Named again where a bad secret file is rejected.
constexpr std::string_view kSecretFileKey = "auth_secret_file";

}  // namespace

std::vector<chathost::ConfigKey> config_keys() {
  using chathost::ConfigKey;
  return {
      ConfigKey::string(std::string(kSecretFileKey), "",
                        "file holding the secret that signs bearer tokens (JWT, HS256, at least 32 bytes); "
                        "empty: no token authentication (development)")
          .env("AUTH_SECRET_FILE"),
      ConfigKey::integer("auth_leeway_seconds", kDefaultLeeway.count(),
                         "clock difference allowed when checking a token's exp and nbf")
          .range(0, 300)
          .env("AUTH_LEEWAY_SECONDS")
          .into(&TokenPolicy::leeway),
      ConfigKey::integer("max_token_ttl_seconds", kDefaultMaxTtl.count(),
                         "a token's exp may be at most this far ahead (every token needs one)")
          .range(60, 366LL * 24 * 3600)
          .env("AUTH_MAX_TOKEN_TTL_SECONDS")
          .into(&TokenPolicy::max_ttl),
      ConfigKey::string("auth_issuer", "", "set: a token's iss must be this")
          .env("AUTH_ISSUER")
          .into(&TokenPolicy::issuer),
      ConfigKey::string("auth_audience", "", "set: a token's aud must name this")
          .env("AUTH_AUDIENCE")
          .into(&TokenPolicy::audience),
  };
}

std::shared_ptr<const TokenVerifier> load_token_verifier(const chathost::PluginConfig& config, spdlog::logger& log) {
  const std::string path = config.get_string(kSecretFileKey);
  if (path.empty()) return nullptr;
  auto file = read_secret_file(path);
  if (!file.error.empty()) config.reject(kSecretFileKey, file.error);
  if (file.readable_by_others) log.warn("the token secret file {} is readable by other users (chmod 600 it)", path);
  TokenPolicy policy;
  config.apply(config_keys(), policy);
  log.info("token authentication on: secret from {} (leeway {} s, tokens valid {} s at most{}{})", path,
           policy.leeway.count(), policy.max_ttl.count(), policy.issuer.empty() ? "" : ", issuer " + policy.issuer,
           policy.audience.empty() ? "" : ", audience " + policy.audience);
  return std::make_shared<const TokenVerifier>(std::move(file.secret), std::move(policy));
}

}  // namespace chat::auth
