// Every environment variable chat-host and its shipped plugins read (the
// `.env(...)` names of their config keys, as in .env.example). A test unsets
// them for the hosts it starts (ProcessOptions::unset_env), so a developer's
// shell cannot change its outcome.
#pragma once

#include <string>
#include <vector>

namespace chathost::test {

inline const std::vector<std::string>& host_variables() {
  static const std::vector<std::string> names{
      // [host]
      "CHATHOST_PLUGINS", "CHATHOST_PLUGIN_PATH", "CHATHOST_LOG_LEVEL", "CHATHOST_STOP_TIMEOUT_MS", "CHATHOST_INSECURE",
      // grpc-chat (GRPC_HOST and GRPC_PORT also point the bridges at it)
      "GRPC_HOST", "GRPC_PORT", "ADMIN_ID", "ADMIN_NAME", "ADMIN_EMAIL", "CHAT_STORE", "CHAT_STORE_PATH", "DATABASE_URL",
      "CHAT_NODE_ID",
      // example-greeter
      "GREETER_GREETING", "GREETER_SIGNATURE",
      // ws-proxy
      "WS_HOST", "WS_PORT", "WS_ALLOWED_ORIGINS", "WS_REUSE_PORT",
      // history-http
      "HTTP_HOST", "HTTP_PORT", "HTTP_METRICS_HOST", "HTTP_METRICS_PORT", "HTTP_ALLOWED_ORIGINS", "HTTP_WEB_ROOT", "PUBLIC_HISTORY_URL", "PUBLIC_WS_URL",
      // ws-proxy and history-http: bearer tokens
      "AUTH_SECRET_FILE", "AUTH_LEEWAY_SECONDS", "AUTH_MAX_TOKEN_TTL_SECONDS", "AUTH_ISSUER", "AUTH_AUDIENCE",
      // TLS: each plugin's port, and the bridges' channel to grpc-chat
      "GRPC_TLS_CERT_FILE", "GRPC_TLS_KEY_FILE", "WS_TLS_CERT_FILE", "WS_TLS_KEY_FILE", "HTTP_TLS_CERT_FILE",
      "HTTP_TLS_KEY_FILE", "GRPC_TLS_CA_FILE", "GRPC_TLS_SERVER_NAME", "GRPC_TLS_CLIENT_CA_FILE",
      "GRPC_TLS_CLIENT_CERT_FILE", "GRPC_TLS_CLIENT_KEY_FILE",
      // the service token between the bridges and grpc-chat
      "CHAT_SERVICE_TOKEN_FILE"};
  return names;
}

}  // namespace chathost::test
