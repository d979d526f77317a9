// chat_tls without sockets: which PEM files it accepts for a server and for
// a channel, what it says about the others, and the TLS its ssl::context
// allows.
#include "support/test_helpers.hpp"
#include "support/test_tls.hpp"
#include "tls/pem_files.hpp"
#include "tls/ssl_context.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <gtest/gtest.h>

#include <memory>

namespace chat::tls {
namespace {

using chathost::test::make_self_signed_certificate;
using chathost::test::TempDir;
using chathost::test::write_file;

bool mentions(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class TlsFilesTest : public ::testing::Test {
 protected:
  TempDir dir_;
  chathost::test::TestCertificate cert_ = make_self_signed_certificate(dir_.path());
};

TEST_F(TlsFilesTest, ASelfSignedCertificateAndItsKeyAreAccepted) {
  const auto chain = read_certificate_chain(cert_.cert_file.string());
  const auto key = read_private_key(cert_.key_file.string());
  ASSERT_EQ(chain.error, "");
  ASSERT_EQ(key.error, "");
  EXPECT_EQ(chain.pem, cert_.cert_pem);
  EXPECT_EQ(check_key_matches(chain.pem, key.pem), "");
  EXPECT_EQ(read_trusted_certificates(cert_.cert_file.string()).error, "");
}

TEST_F(TlsFilesTest, AChainOfSeveralCertificatesIsAcceptedAndTheKeyIsTheFirstOnes) {
  const auto other = make_self_signed_certificate(dir_.path(), "other");
  write_file(dir_ / "chain.pem", cert_.cert_pem + other.cert_pem);
  const auto chain = read_certificate_chain((dir_ / "chain.pem").string());
  ASSERT_EQ(chain.error, "");
  EXPECT_EQ(check_key_matches(chain.pem, cert_.key_pem), "");
  EXPECT_NE(check_key_matches(chain.pem, other.key_pem), "");
}

TEST_F(TlsFilesTest, FilesThatAreNotWhatTheyShouldBeAreRefusedNamingTheFile) {
  const auto path = [&](const char* name) { return (dir_ / name).string(); };
  write_file(dir_ / "empty.pem", "");
  write_file(dir_ / "text.pem", "hello\n");
  std::string broken = cert_.cert_pem;
  broken[broken.size() / 2] = '#';
  write_file(dir_ / "broken.pem", broken);

  EXPECT_TRUE(mentions(read_certificate_chain(path("missing.pem")).error,
                       "cannot read the certificate file " + path("missing.pem") + ": No such file or directory"));
  EXPECT_TRUE(mentions(read_certificate_chain(path("empty.pem")).error, path("empty.pem") + " holds no PEM certificate"));
  EXPECT_TRUE(mentions(read_certificate_chain(path("text.pem")).error, "holds no PEM certificate"));
  EXPECT_TRUE(mentions(read_certificate_chain(path("broken.pem")).error, "not valid PEM"));
  EXPECT_TRUE(mentions(read_certificate_chain(cert_.key_file.string()).error, "holds no PEM certificate"));
  EXPECT_TRUE(mentions(read_trusted_certificates(path("text.pem")).error, "holds no PEM certificate"));
  EXPECT_TRUE(mentions(read_trusted_certificates(path("missing.pem")).error, "cannot read the CA certificate file"));
  EXPECT_TRUE(mentions(read_certificate_chain(dir_.path().string()).error, "is not a regular file"));
  EXPECT_TRUE(mentions(read_private_key(path("text.pem")).error, path("text.pem") + " holds no usable PEM private key"));
  EXPECT_TRUE(mentions(read_private_key(cert_.cert_file.string()).error, "holds no usable PEM private key"));
  EXPECT_TRUE(mentions(read_private_key(path("missing.pem")).error, "cannot read the private key file"));
}

TEST_F(TlsFilesTest, AnEncryptedKeyIsRefusedWithoutAskingForAPassphrase) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_mem_buf(cert_.key_pem.data(), -1), &BIO_free);
  const std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  ASSERT_TRUE(key);
  const std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
  std::string passphrase = "a passphrase";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(out.get(), key.get(), EVP_aes_256_cbc(), passphrase.data(),
                                          static_cast<int>(passphrase.size()), nullptr, nullptr),
            1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(out.get(), &data);
  write_file(dir_ / "encrypted-key.pem", std::string(data, static_cast<std::size_t>(size)));

  const auto read = read_private_key((dir_ / "encrypted-key.pem").string());
  EXPECT_TRUE(mentions(read.error, "unencrypted")) << read.error;
}

TEST_F(TlsFilesTest, TheServerContextAllowsTls12AndLaterWithoutCompression) {
  const auto context = make_server_ssl_context(
      {.cert_file = "", .key_file = "", .chain_pem = cert_.cert_pem, .key_pem = cert_.key_pem, .client_ca_file = "",
       .client_ca_pem = ""});
  SSL_CTX* native = context->native_handle();
  EXPECT_EQ(SSL_CTX_get_min_proto_version(native), TLS1_2_VERSION);
  EXPECT_NE(SSL_CTX_get_options(native) & SSL_OP_NO_COMPRESSION, 0U);
  EXPECT_NE(SSL_CTX_get0_certificate(native), nullptr);
  EXPECT_EQ(SSL_CTX_check_private_key(native), 1);
}

}  // namespace
}  // namespace chat::tls
