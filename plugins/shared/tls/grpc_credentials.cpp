#include "tls/grpc_credentials.hpp"

#include "in_process_services.hpp"  // from chat_proto
#include "net/listen_address.hpp"

#include <charconv>

namespace chat::tls {

std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<ServerCertificate>& certificate) {
  if (!certificate) return grpc::InsecureServerCredentials();
  // With a client CA, a certificate the client shows is verified by TLS;
  // one that shows none gets through the handshake and is refused per call
  // (CallerPolicy), with an UNAUTHENTICATED that says what is missing.
  grpc::SslServerCredentialsOptions options(certificate->client_ca_pem.empty()
                                                ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                                : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = certificate->client_ca_pem;
  options.pem_key_cert_pairs.push_back({certificate->key_pem, certificate->chain_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::Channel> in_process_channel(std::string_view target, const grpc::ChannelArguments& args) {
  // "host:port" or "[v6]:port", as chat::net::parse_chat_nodes writes it.
  const auto colon = target.rfind(':');
  if (colon == std::string_view::npos) return nullptr;
  const std::string_view port_text = target.substr(colon + 1);
  int port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size()) return nullptr;
  std::string_view host = target.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  // A loopback target reaches a service on loopback or on every address;
  // any other, its own listen host only (beyond that, the socket decides).
  const auto reaches = [host](std::string_view listen_host) {
    if (listen_host == host) return true;
    const bool everywhere = listen_host.empty() || listen_host == "0.0.0.0" || listen_host == "::";
    return chat::net::is_loopback_host(host) && (everywhere || chat::net::is_loopback_host(listen_host));
  };
  return chat::in_process::channel_to(port, reaches, args);
}

std::shared_ptr<grpc::Channel> make_chat_channel(const std::string& target, const ChannelSecurity& security,
                                                 grpc::ChannelArguments args) {
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(security.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(security.keepalive_timeout.count()));
  // A bridge's channel may be idle (history-http between requests, ws-proxy
  // between reconnects): it is checked all the same. And the pings go on
  // however long no data flows, which gRPC otherwise stops after two.
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  if (!security.tls()) {
    // A service of this very process: no socket between the two plugins.
    if (auto here = in_process_channel(target, args)) return here;
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = security.ca_pem;
  options.pem_private_key = security.client_key_pem;
  options.pem_cert_chain = security.client_chain_pem;
  if (!security.server_name.empty()) args.SetSslTargetNameOverride(security.server_name);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options), args);
}

}  // namespace chat::tls
