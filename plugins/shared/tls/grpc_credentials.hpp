// gRPC's side of the configured TLS: the credentials grpc-chat listens with,
// and the channel the bridges (ws-proxy, history-http) open to it.
#pragma once

#include "tls/tls_config.hpp"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>

namespace chat::tls {

// TLS with `certificate` (no client certificates asked for), or insecure
// without one.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<ServerCertificate>& certificate);

// A channel to grpc-chat at `target` ("host:port") with `args`: TLS trusting
// security.ca_pem (checking security.server_name when set) or insecure, and
// keepalive pings as security says.
std::shared_ptr<grpc::Channel> make_chat_channel(const std::string& target, const ChannelSecurity& security,
                                                 grpc::ChannelArguments args);

}  // namespace chat::tls
