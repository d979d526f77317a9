#include "support/test_tls.hpp"

#include "support/test_helpers.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <random>
#include <stdexcept>

namespace chathost::test {
namespace {

struct Free {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
  void operator()(X509* cert) const { X509_free(cert); }
  void operator()(BIO* bio) const { BIO_free(bio); }
  void operator()(X509_EXTENSION* extension) const { X509_EXTENSION_free(extension); }
};

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("making a test certificate: ") + what + " failed");
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  const std::unique_ptr<X509_EXTENSION, Free> extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str()));
  check(extension != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, extension.get(), -1) == 1, "X509_add_ext");
}

template <typename Write>
std::string to_pem(Write write) {
  const std::unique_ptr<BIO, Free> bio(BIO_new(BIO_s_mem()));
  check(bio && write(bio.get()) == 1, "writing PEM");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

}  // namespace

TestCertificate make_self_signed_certificate(const std::filesystem::path& dir, const std::string& stem,
                                             const CertificateNames& names) {
  const std::unique_ptr<EVP_PKEY, Free> key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");

  const std::unique_ptr<X509, Free> cert(X509_new());
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");  // 2 is v3
  // Random serial numbers, so two certificates of one test never look alike.
  check(ASN1_INTEGER_set_int64(X509_get_serialNumber(cert.get()), 1 + (std::random_device{}() & 0x7fffffff)) == 1,
        "setting the serial number");
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -24L * 3600) != nullptr, "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600) != nullptr, "notAfter");
  check(X509_set_pubkey(cert.get(), key.get()) == 1, "X509_set_pubkey");

  const std::string common_name =
      !names.dns.empty() ? names.dns.front() : (!names.ip.empty() ? names.ip.front() : std::string("test"));
  X509_NAME* subject = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1, 0) == 1,
        "setting the subject");
  check(X509_set_issuer_name(cert.get(), subject) == 1, "setting the issuer");

  std::string alt_names;
  for (const auto& name : names.dns) alt_names += (alt_names.empty() ? "DNS:" : ",DNS:") + name;
  for (const auto& address : names.ip) alt_names += (alt_names.empty() ? "IP:" : ",IP:") + address;
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert.get(), NID_subject_key_identifier, "hash");
  add_extension(cert.get(), NID_authority_key_identifier, "keyid:always");
  if (!alt_names.empty()) add_extension(cert.get(), NID_subject_alt_name, alt_names);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  TestCertificate out;
  out.cert_pem = to_pem([&](BIO* bio) { return PEM_write_bio_X509(bio, cert.get()); });
  out.key_pem = to_pem([&](BIO* bio) {
    return PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  out.cert_file = dir / (stem + "-cert.pem");
  out.key_file = dir / (stem + "-key.pem");
  write_file(out.cert_file, out.cert_pem);
  write_file(out.key_file, out.key_pem);
  std::filesystem::permissions(out.key_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return out;
}

}  // namespace chathost::test
