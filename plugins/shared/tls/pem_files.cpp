#include "tls/pem_files.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace chat::tls {
namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct FileClose {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using Bio = std::unique_ptr<BIO, BioFree>;
using Certificate = std::unique_ptr<X509, X509Free>;
using PrivateKey = std::unique_ptr<EVP_PKEY, PkeyFree>;

PemFile failed(std::string why) { return {.pem = {}, .error = std::move(why)}; }

// `what`: "certificate file", "private key file", ... for messages.
PemFile read_text(const std::string& path, const char* what) {
  const auto cannot_read = [&] {
    return failed(std::string("cannot read the ") + what + " " + path + ": " + std::strerror(errno));
  };
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return cannot_read();
  if (!S_ISREG(info.st_mode)) return failed(path + " is not a regular file (expected a PEM " + what + ")");
  if (static_cast<std::size_t>(info.st_size) > kMaxPemFileBytes) {
    return failed(path + " is larger than " + std::to_string(kMaxPemFileBytes / 1024) + " KiB: not a PEM " + what);
  }
  const std::unique_ptr<std::FILE, FileClose> file(std::fopen(path.c_str(), "rb"));
  if (!file) return cannot_read();
  PemFile result;
  result.pem.resize(static_cast<std::size_t>(info.st_size));
  result.pem.resize(std::fread(result.pem.data(), 1, result.pem.size(), file.get()));
  if (std::ferror(file.get()) != 0) return cannot_read();
  return result;
}

Bio memory_bio(const std::string& text) { return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

// Never asks for a passphrase: a host has nobody to ask.
int no_passphrase(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) { return -1; }

// The certificates in `pem`, in order; empty when one of them does not parse
// or there is none. Leaves OpenSSL's error queue empty.
std::vector<Certificate> parse_certificates(const std::string& pem, bool& malformed) {
  std::vector<Certificate> certificates;
  const auto bio = memory_bio(pem);
  while (Certificate cert{PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)}) {
    certificates.push_back(std::move(cert));
  }
  // The loop ends at the end of the text (no further BEGIN line) or at a
  // block that does not parse.
  const auto error = ERR_peek_last_error();
  malformed = !(ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE);
  ERR_clear_error();
  return certificates;
}

PemFile read_certificates(const std::string& path, const char* what) {
  auto file = read_text(path, what);
  if (!file.error.empty()) return file;
  bool malformed = false;
  const auto certificates = parse_certificates(file.pem, malformed);
  if (certificates.empty() && !malformed) {
    return failed(path + " holds no PEM certificate (expected a -----BEGIN CERTIFICATE----- block)");
  }
  if (malformed) return failed(path + " holds a certificate that is not valid PEM");
  return file;
}

}  // namespace

PemFile read_certificate_chain(const std::string& path) { return read_certificates(path, "certificate file"); }

PemFile read_trusted_certificates(const std::string& path) { return read_certificates(path, "CA certificate file"); }

PemFile read_private_key(const std::string& path) {
  auto file = read_text(path, "private key file");
  if (!file.error.empty()) return file;
  const auto bio = memory_bio(file.pem);
  const PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  ERR_clear_error();
  if (!key) {
    return failed(path +
                  " holds no usable PEM private key (expected an unencrypted -----BEGIN PRIVATE KEY----- block)");
  }
  return file;
}

std::string check_key_matches(const std::string& chain_pem, const std::string& key_pem) {
  bool malformed = false;
  const auto certificates = parse_certificates(chain_pem, malformed);
  const auto bio = memory_bio(key_pem);
  const PrivateKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  const bool matches =
      !certificates.empty() && key && X509_check_private_key(certificates.front().get(), key.get()) == 1;
  ERR_clear_error();
  return matches ? "" : "is not the private key of the certificate";
}

}  // namespace chat::tls
