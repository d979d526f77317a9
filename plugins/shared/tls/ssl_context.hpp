// The TLS server context of the Beast servers (history-http's https://,
// ws-proxy's wss://): one function, so both speak the same TLS.
#pragma once

#include "tls/tls_config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace chat::tls {

// TLS 1.2 and later, no compression, no renegotiation, the server's cipher
// preference; the certificate chain and key of `certificate` (already checked
// by load_server_certificate). Throws boost::system::system_error if OpenSSL
// refuses them anyway.
std::shared_ptr<boost::asio::ssl::context> make_server_ssl_context(const ServerCertificate& certificate);

// For configure(): load_server_certificate, then the context; nullptr when
// TLS is off. A context OpenSSL refuses is rejected naming tls_cert_file.
std::shared_ptr<boost::asio::ssl::context> load_server_ssl_context(const chathost::PluginConfig& config);

}  // namespace chat::tls
