#include "tls/grpc_credentials.hpp"

namespace chat::tls {

std::shared_ptr<grpc::ServerCredentials> server_credentials(const std::optional<ServerCertificate>& certificate) {
  if (!certificate) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({certificate->key_pem, certificate->chain_pem});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::Channel> make_chat_channel(const std::string& target, const ChannelSecurity& security,
                                                 grpc::ChannelArguments args) {
  if (!security.tls()) return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = security.ca_pem;
  if (!security.server_name.empty()) args.SetSslTargetNameOverride(security.server_name);
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(options), args);
}

}  // namespace chat::tls
