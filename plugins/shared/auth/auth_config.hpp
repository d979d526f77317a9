// The config keys that turn token authentication on, the same in every
// plugin that checks tokens (ws-proxy, history-http), and the verifier they
// configure. Off unless a secret file is given: the development config
// leaves it empty; docs/deployment.md has the production setup.
#pragma once

#include "auth/jwt.hpp"
#include "auth/secret_file.hpp"

#include <chathost/plugin.hpp>

#include <memory>
#include <vector>

namespace chat::auth {

// auth_secret_file, auth_leeway_seconds, max_token_ttl_seconds, auth_issuer
// and auth_audience (env AUTH_SECRET_FILE and so on), for a plugin's
// config_keys(); all but the file are bound into TokenPolicy.
std::vector<chathost::ConfigKey> config_keys();

// For a plugin's configure(): the verifier, or nullptr when auth_secret_file
// is empty (authentication off). A secret file that read_secret_file()
// refuses is rejected through config.reject, naming the file and the key.
// Logs one line when authentication is on (never the secret), and a warning
// when the file is readable by other users.
std::shared_ptr<const TokenVerifier> load_token_verifier(const chathost::PluginConfig& config,
                                                         spdlog::logger& log);

}  // namespace chat::auth
