#include "tls/tls_config.hpp"

#include "tls/pem_files.hpp"

namespace chat::tls {
namespace {

constexpr std::string_view kCertFileKey = "tls_cert_file";
constexpr std::string_view kKeyFileKey = "tls_key_file";
constexpr std::string_view kCaFileKey = "chat_tls_ca_file";
constexpr std::string_view kServerNameKey = "chat_tls_server_name";
constexpr std::string_view kClientCaKey = "tls_client_ca_file";
constexpr std::string_view kClientCertKey = "chat_tls_cert_file";
constexpr std::string_view kClientKeyKey = "chat_tls_key_file";

}  // namespace

std::vector<chathost::ConfigKey> server_config_keys(std::string_view env_prefix, std::string_view serves) {
  using chathost::ConfigKey;
  const std::string prefix(env_prefix);
  return {
      ConfigKey::string(std::string(kCertFileKey), "",
                        "PEM certificate chain (the server's certificate first) for TLS on " + std::string(serves) +
                            "; with tls_key_file; empty: no TLS")
          .env(prefix + "_TLS_CERT_FILE"),
      ConfigKey::string(std::string(kKeyFileKey), "",
                        "PEM private key (unencrypted) of tls_cert_file's certificate; empty: no TLS")
          .env(prefix + "_TLS_KEY_FILE"),
  };
}

std::optional<ServerCertificate> load_server_certificate(const chathost::PluginConfig& config) {
  ServerCertificate certificate;
  certificate.cert_file = config.get_string(kCertFileKey);
  certificate.key_file = config.get_string(kKeyFileKey);
  if (certificate.cert_file.empty() && certificate.key_file.empty()) return std::nullopt;
  if (certificate.key_file.empty()) config.reject(kCertFileKey, "needs tls_key_file too (both or neither)");
  if (certificate.cert_file.empty()) config.reject(kKeyFileKey, "needs tls_cert_file too (both or neither)");

  auto chain = read_certificate_chain(certificate.cert_file);
  if (!chain.error.empty()) config.reject(kCertFileKey, chain.error);
  auto key = read_private_key(certificate.key_file);
  if (!key.error.empty()) config.reject(kKeyFileKey, key.error);
  if (auto why = check_key_matches(chain.pem, key.pem); !why.empty()) {
    config.reject(kKeyFileKey, certificate.key_file + " " + why + " in " + certificate.cert_file);
  }
  certificate.chain_pem = std::move(chain.pem);
  certificate.key_pem = std::move(key.pem);
  return certificate;
}

chathost::ConfigKey client_ca_config_key() {
  return chathost::ConfigKey::string(std::string(kClientCaKey), "",
                                     "PEM certificates of the CA that signs the bridges' client certificates; set: "
                                     "every caller must present one (mutual TLS, needs tls_cert_file)")
      .env("GRPC_TLS_CLIENT_CA_FILE");
}

void load_client_ca(const chathost::PluginConfig& config, std::optional<ServerCertificate>& certificate) {
  const std::string path = config.get_string(kClientCaKey);
  if (path.empty()) return;
  if (!certificate) config.reject(kClientCaKey, "needs TLS on the port: set tls_cert_file and tls_key_file too");
  auto trusted = read_trusted_certificates(path);
  if (!trusted.error.empty()) config.reject(kClientCaKey, trusted.error);
  certificate->client_ca_file = path;
  certificate->client_ca_pem = std::move(trusted.pem);
}

std::vector<chathost::ConfigKey> channel_config_keys() {
  using chathost::ConfigKey;
  return {
      ConfigKey::string(std::string(kCaFileKey), "",
                        "PEM certificates to trust for the chat service (its CA, or its self-signed certificate); "
                        "set: the channel to grpc-chat uses TLS; empty: insecure")
          .env("GRPC_TLS_CA_FILE"),
      ConfigKey::string(std::string(kServerNameKey), "",
                        "name to check in the chat service's certificate instead of chat_host (a certificate "
                        "made for another name); empty: chat_host")
          .env("GRPC_TLS_SERVER_NAME"),
      ConfigKey::string(std::string(kClientCertKey), "",
                        "PEM certificate chain the bridge shows the chat service (mutual TLS, grpc-chat's "
                        "tls_client_ca_file); with chat_tls_key_file and chat_tls_ca_file; empty: none")
          .env("GRPC_TLS_CLIENT_CERT_FILE"),
      ConfigKey::string(std::string(kClientKeyKey), "",
                        "PEM private key (unencrypted) of chat_tls_cert_file's certificate")
          .env("GRPC_TLS_CLIENT_KEY_FILE"),
      ConfigKey::integer("chat_keepalive_time_ms", 30000,
                         "ping the chat service this often, also with no call open (grpc-chat's "
                         "min_client_ping_interval_ms must allow it)")
          .range(1000, 24 * 3600 * 1000)
          .into(&ChannelSecurity::keepalive_time),
      ConfigKey::integer("chat_keepalive_timeout_ms", 20000,
                         "a ping unanswered (or data unacknowledged) for this long drops the connection: its "
                         "streams end, the bridge reconnects")
          .range(1000, 3600 * 1000)
          .into(&ChannelSecurity::keepalive_timeout),
  };
}

ChannelSecurity load_channel_security(const chathost::PluginConfig& config) {
  ChannelSecurity security;
  config.apply(channel_config_keys(), security);
  security.ca_file = config.get_string(kCaFileKey);
  security.server_name = config.get_string(kServerNameKey);
  security.client_cert_file = config.get_string(kClientCertKey);
  const std::string client_key_file = config.get_string(kClientKeyKey);
  if (security.ca_file.empty()) {
    if (!security.server_name.empty()) config.reject(kServerNameKey, "needs chat_tls_ca_file (TLS is off without it)");
    if (!security.client_cert_file.empty()) {
      config.reject(kClientCertKey, "needs chat_tls_ca_file (TLS is off without it)");
    }
    if (!client_key_file.empty()) config.reject(kClientKeyKey, "needs chat_tls_ca_file (TLS is off without it)");
    return security;
  }
  if (!security.client_cert_file.empty() || !client_key_file.empty()) {
    if (client_key_file.empty()) config.reject(kClientCertKey, "needs chat_tls_key_file too (both or neither)");
    if (security.client_cert_file.empty()) config.reject(kClientKeyKey, "needs chat_tls_cert_file too (both or neither)");
    auto chain = read_certificate_chain(security.client_cert_file);
    if (!chain.error.empty()) config.reject(kClientCertKey, chain.error);
    auto key = read_private_key(client_key_file);
    if (!key.error.empty()) config.reject(kClientKeyKey, key.error);
    if (auto why = check_key_matches(chain.pem, key.pem); !why.empty()) {
      config.reject(kClientKeyKey, client_key_file + " " + why + " in " + security.client_cert_file);
    }
    security.client_chain_pem = std::move(chain.pem);
    security.client_key_pem = std::move(key.pem);
  }
  if (security.server_name.find_first_of(" /\t\r\n") != std::string::npos) {
    config.reject(kServerNameKey, "expected a host name, got \"" + security.server_name + "\"");
  }
  auto trusted = read_trusted_certificates(security.ca_file);
  if (!trusted.error.empty()) config.reject(kCaFileKey, trusted.error);
  security.ca_pem = std::move(trusted.pem);
  return security;
}

std::string ChannelSecurity::describe() const {
  if (!tls()) return "insecure";
  return "TLS, trusting " + ca_file + (server_name.empty() ? "" : ", certificate name " + server_name) +
         (client_cert_file.empty() ? "" : ", client certificate " + client_cert_file);
}

}  // namespace chat::tls
