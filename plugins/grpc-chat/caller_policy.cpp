#include "caller_policy.hpp"

namespace chat::service {

CallerPolicy::CallerPolicy(std::optional<service_auth::ServiceToken> service_token,
                           std::optional<service_auth::ServiceToken> host_secret, bool client_certificates)
    : service_token_(std::move(service_token)),
      host_secret_(std::move(host_secret)),
      client_certificates_(client_certificates) {}

CallerCheck CallerPolicy::check(const grpc::ServerContextBase& context) const {
  std::string_view authorization;
  const auto& metadata = context.client_metadata();
  if (const auto it = metadata.find(std::string(service_auth::kAuthorizationKey)); it != metadata.end()) {
    authorization = std::string_view(it->second.data(), it->second.size());
  }
  const bool own_bridge = host_secret_ && host_secret_->presented_in(authorization);
  const bool has_token = own_bridge || (service_token_ && service_token_->presented_in(authorization));

  if (!authenticates()) {
    return {grpc::Status::OK, has_token ? CallerRole::Bridge : CallerRole::User};
  }
  if (service_token_ && !has_token) {
    return {grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                         authorization.empty() ? "the chat service wants its service token (authorization: Bearer)"
                                           : "the service token presented is not the chat service's"),
            CallerRole::User};
  }
  if (client_certificates_) {
    // TLS verified any certificate the client sent against the client CA;
    // a peer identity means one was sent and passed.
    const auto auth = context.auth_context();
    if (!auth || !auth->IsPeerAuthenticated()) {
      return {grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                           "the chat service wants a client certificate signed by its client CA"),
              CallerRole::User};
    }
  }
  return {grpc::Status::OK, CallerRole::Bridge};
}

std::string CallerPolicy::describe() const {
  if (service_token_ && client_certificates_) return "service token and client certificates";
  if (service_token_) return "service token";
  if (client_certificates_) return "client certificates";
  return "none (callers other than this host's bridges are one user per stream)";
}

}  // namespace chat::service
