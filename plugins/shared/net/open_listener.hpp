// The secure default of every listener browsers reach (ws-proxy,
// history-http): beyond loopback, one that lets a page of any origin in
// without a token would let anyone on the network act as any user. It is
// refused, naming the `host` key, unless the operator said --insecure
// ([host] insecure), and then it logs a warning.
#pragma once

#include "net/listen_address.hpp"

#include <chathost/plugin.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace chat::net {

// For configure(), after the plugin's `host`, `allowed_origins` and tokens
// are read. `anyone_could`: what a stranger could then do, for the messages
// ("chat as any user").
inline void check_open_listener(const chathost::PluginContext& ctx, const std::vector<std::string>& allowed_origins,
                                bool tokens, std::string_view anyone_could) {
  const std::string host = ctx.config.get_string("host");
  const bool any_origin = std::find(allowed_origins.begin(), allowed_origins.end(), "*") != allowed_origins.end();
  if (is_loopback_host(host) || !any_origin || tokens) return;
  if (!ctx.insecure) {
    ctx.config.reject("host", "\"" + host +
                                  "\" is reachable from the network, and with allowed_origins = [\"*\"] and no "
                                  "tokens any page could " +
                                  std::string(anyone_could) +
                                  ": list your origins, set auth_secret_file (AUTH_SECRET_FILE), or start with "
                                  "--insecure ([host] insecure = true) to accept it (docs/security.md)");
  }
  ctx.logger->warn("listening on {} for pages of any origin without tokens (insecure): anyone who reaches the port "
                   "may {}",
                   host, anyone_could);
}

}  // namespace chat::net
