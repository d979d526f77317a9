// The service token's config key, the same in grpc-chat and in the bridges:
// service_token_file (environment CHAT_SERVICE_TOKEN_FILE, so one variable
// sets it for every plugin of a host), and how a bridge presents the token
// on its calls.
#pragma once

#include <chathost/plugin.hpp>

#include <grpcpp/client_context.h>

#include <string>
#include <string_view>

namespace chat::service_auth {

inline constexpr std::string_view kServiceTokenFileKey = "service_token_file";

// For config_keys(); `use` says what the token does in this plugin.
chathost::ConfigKey service_token_file_key(std::string use);

// For configure(): the token from service_token_file (at least 32 bytes,
// without a trailing line break), or empty when the key is empty. A file
// that cannot be used is rejected through config.reject, naming it; one
// readable by other users gets a warning. The token is never logged.
std::string load_service_token(const chathost::PluginConfig& config, spdlog::logger& log);

// For a bridge's configure(): what it presents to the chat service, the
// token of service_token_file, or else the host's own secret (enough for a
// grpc-chat in the same host process).
std::string load_bridge_token(const chathost::PluginContext& ctx);

// Adds `authorization: Bearer <token>` to a call's metadata (nothing when
// `token` is empty).
void present(grpc::ClientContext& context, const std::string& token);

}  // namespace chat::service_auth
