// Who may call the chat service, decided on every call from what the caller
// presents: the service token (`authorization: Bearer` metadata) and, when a
// client CA is configured, a client certificate signed by it.
//
//   bridge   presents every credential that is configured (or the host's
//            own secret, which only the plugins of this process know): may
//            speak for many users on one stream
//   user     no credential is configured (the loopback default) and the
//            caller presents none of ours: one user per stream, with the
//            limits of one WebSocket connection
//   refused  a credential is configured and the caller lacks it:
//            UNAUTHENTICATED, naming what is missing (never the token)
#pragma once

#include "service_auth/service_token.hpp"

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

namespace chat::service {

enum class CallerRole { Bridge, User };

struct CallerCheck {
  grpc::Status status;  // OK, or UNAUTHENTICATED
  CallerRole role = CallerRole::User;

  bool ok() const { return status.ok(); }
};

class CallerPolicy {
 public:
  // `service_token`: service_token_file's token, if set. `host_secret`: the
  // host's own (PluginContext::host_secret), presented by this process's
  // bridges when no token is configured. `client_certificates`: a client CA
  // is configured, so TLS verified any certificate presented.
  CallerPolicy(std::optional<service_auth::ServiceToken> service_token,
               std::optional<service_auth::ServiceToken> host_secret, bool client_certificates);

  CallerCheck check(const grpc::ServerContextBase& context) const;

  // Whether a credential is configured: then no caller without it gets in,
  // on loopback too.
  bool authenticates() const { return service_token_.has_value() || client_certificates_; }
  // For the start line: "service token", "client certificates", both, or "none".
  std::string describe() const;

 private:
  std::optional<service_auth::ServiceToken> service_token_;
  std::optional<service_auth::ServiceToken> host_secret_;
  bool client_certificates_ = false;
};

}  // namespace chat::service
