#include "tls/ssl_context.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/ssl.h>

namespace chat::tls {

std::shared_ptr<boost::asio::ssl::context> make_server_ssl_context(const ServerCertificate& certificate) {
  namespace ssl = boost::asio::ssl;
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                       ssl::context::single_dh_use);
  SSL_CTX* native = context->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // The key was checked to be unencrypted; never let OpenSSL prompt for one.
  context->set_password_callback([](std::size_t, ssl::context::password_purpose) { return std::string(); });
  context->use_certificate_chain(boost::asio::buffer(certificate.chain_pem));
  context->use_private_key(boost::asio::buffer(certificate.key_pem), ssl::context::pem);
  return context;
}

std::shared_ptr<boost::asio::ssl::context> load_server_ssl_context(const chathost::PluginConfig& config) {
  const auto certificate = load_server_certificate(config);
  if (!certificate) return nullptr;
  try {
    return make_server_ssl_context(*certificate);
  } catch (const boost::system::system_error& e) {
    config.reject("tls_cert_file", certificate->cert_file + " and " + certificate->key_file +
                                       " cannot serve TLS: " + e.code().message());
  }
}

}  // namespace chat::tls
