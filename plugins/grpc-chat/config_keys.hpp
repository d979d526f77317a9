// grpc-chat's configuration keys: every key of the [grpc-chat] table, with
// its type, default, environment variable and one line of description.
#pragma once

#include <chathost/plugin.hpp>

#include <vector>

namespace chat::service {

std::vector<chathost::ConfigKey> grpc_chat_config_keys();

}  // namespace chat::service
