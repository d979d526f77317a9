// gRPC's side of the configured TLS: the credentials grpc-chat listens with,
// and the channel the bridges (ws-proxy, history-http) open to it.
#pragma once

#include "tls/tls_config.hpp"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace chat::tls {

// TLS with `certificate` (asking for client certificates when it has a
// client CA), or insecure without one.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<ServerCertificate>& certificate);

// A channel to grpc-chat at `target` ("host:port") with `args`: TLS trusting
// security.ca_pem (checking security.server_name when set, showing the
// client certificate when there is one) or insecure, and keepalive pings as
// security says. The service token goes on each call (service_auth/).
// Without TLS, a service that this process serves at `target` is reached
// through gRPC's in-process transport (in_process_services.hpp).
// A channel through gRPC's in-process transport to the service this process
// serves at `target` ("host:port"), or nullptr when it serves none there.
std::shared_ptr<grpc::Channel> in_process_channel(std::string_view target, const grpc::ChannelArguments& args);

std::shared_ptr<grpc::Channel> make_chat_channel(const std::string& target, const ChannelSecurity& security,
                                                 grpc::ChannelArguments args);

}  // namespace chat::tls
