#include "auth/auth_config.hpp"

namespace chat::auth {
namespace {

constexpr std::string_view kSecretFileKey = "auth_secret_file";
constexpr std::string_view kLeewayKey = "auth_leeway_seconds";

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
  };
}

std::shared_ptr<const TokenVerifier> load_token_verifier(const chathost::PluginConfig& config, spdlog::logger& log) {
  const std::string path = config.get_string(kSecretFileKey);
  if (path.empty()) return nullptr;
  auto file = read_secret_file(path);
  if (!file.error.empty()) config.reject(kSecretFileKey, file.error);
  if (file.readable_by_others) log.warn("the token secret file {} is readable by other users (chmod 600 it)", path);
  const std::chrono::seconds leeway(config.get_int(kLeewayKey));
  auto verifier = std::make_shared<const TokenVerifier>(std::move(file.secret), leeway);
  log.info("token authentication on: secret from {} (leeway {} s)", path, leeway.count());
  return verifier;
}

}  // namespace chat::auth
