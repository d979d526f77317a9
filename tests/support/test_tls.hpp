// Self-signed certificates for TLS tests, made with OpenSSL's C API when a
// test needs them (nothing checked in, nothing that expires under the tests).
//
//   auto cert = make_self_signed_certificate(dir.path());   // localhost, 127.0.0.1
//   ... tls_cert_file = cert.cert_file, tls_key_file = cert.key_file ...
//   ... a client trusting cert.cert_pem ...
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace chathost::test {

struct CertificateNames {
  std::vector<std::string> dns{"localhost"};
  std::vector<std::string> ip{"127.0.0.1"};
};

struct TestCertificate {
  std::filesystem::path cert_file;  // PEM certificate: a trust root for clients too
  std::filesystem::path key_file;   // PEM private key (PKCS#8, unencrypted), mode 600
  std::string cert_pem;
  std::string key_pem;
};

// A fresh EC P-256 key and an X.509 v3 certificate for it, signed by itself,
// valid from a day ago for a year: subject CN the first DNS name,
// subjectAltName every DNS name and IP address, basicConstraints CA:TRUE (so
// that it is its own trust root, as `openssl req -x509` makes them). Written
// to <dir>/<stem>-cert.pem and <dir>/<stem>-key.pem. Throws
// std::runtime_error when OpenSSL fails.
TestCertificate make_self_signed_certificate(const std::filesystem::path& dir, const std::string& stem = "server",
                                             const CertificateNames& names = {});

}  // namespace chathost::test
