#include "service_auth/service_auth_config.hpp"

#include "auth/secret_file.hpp"
#include "service_auth/service_token.hpp"

namespace chat::service_auth {

chathost::ConfigKey service_token_file_key(std::string use) {
  return chathost::ConfigKey::string(std::string(kServiceTokenFileKey), "",
                                     "file holding the service token (at least 32 bytes): " + std::move(use))
      .env("CHAT_SERVICE_TOKEN_FILE");
}

std::string load_service_token(const chathost::PluginConfig& config, spdlog::logger& log) {
  const std::string path = config.get_string(kServiceTokenFileKey);
  if (path.empty()) return {};
  auto file = chat::auth::read_secret_file(path);
  if (!file.error.empty()) config.reject(kServiceTokenFileKey, file.error);
  if (file.readable_by_others) log.warn("the service token file {} is readable by other users (chmod 600 it)", path);
  return std::move(file.secret);
}

std::string load_bridge_token(const chathost::PluginContext& ctx) {
  auto token = load_service_token(ctx.config, *ctx.logger);
  return token.empty() ? ctx.host_secret : token;
}

void present(grpc::ClientContext& context, const std::string& token) {
  if (!token.empty()) context.AddMetadata(std::string(kAuthorizationKey), "Bearer " + token);
}

}  // namespace chat::service_auth
