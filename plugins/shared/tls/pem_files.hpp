// Reading the PEM files TLS is configured with, and checking them with
// OpenSSL before anything listens or connects: a wrong path or a file of the
// wrong kind is a configuration error at start, not a failed handshake later.
#pragma once

#include <cstddef>
#include <string>

namespace chat::tls {

// A PEM file larger than this is a mistake (a wrong path), not a key or a
// certificate chain.
inline constexpr std::size_t kMaxPemFileBytes = 1024 * 1024;

struct PemFile {
  std::string pem;    // the file's text, when error is empty
  std::string error;  // why it is unusable, naming the file
};

// One or more certificates ("-----BEGIN CERTIFICATE-----"), the server's own
// first, then the intermediates that lead to a trusted root.
PemFile read_certificate_chain(const std::string& path);
// One private key, not encrypted (a host cannot ask for a passphrase).
PemFile read_private_key(const std::string& path);
// The certificates to trust (a CA bundle, or a self-signed certificate).
PemFile read_trusted_certificates(const std::string& path);

// Empty when `key_pem` is the private key of the first certificate of
// `chain_pem`; otherwise why not. Both must have been read by the functions
// above.
std::string check_key_matches(const std::string& chain_pem, const std::string& key_pem);

}  // namespace chat::tls
