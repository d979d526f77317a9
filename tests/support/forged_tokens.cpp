#include "support/forged_tokens.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

namespace chat::test {

std::string base64url_encode(std::string_view bytes) {
  std::vector<unsigned char> out(4 * ((bytes.size() + 2) / 3) + 1);
  const int written =
      EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  std::string text(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(written));
  while (!text.empty() && text.back() == '=') text.pop_back();
  std::replace(text.begin(), text.end(), '+', '-');
  std::replace(text.begin(), text.end(), '/', '_');
  return text;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string padded(text);
  if (padded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
      std::string::npos) {
    return std::nullopt;
  }
  std::replace(padded.begin(), padded.end(), '-', '+');
  std::replace(padded.begin(), padded.end(), '_', '/');
  const std::size_t padding = (4 - padded.size() % 4) % 4;
  padded.append(padding, '=');
  std::vector<unsigned char> out(padded.size() / 4 * 3 + 1);
  const int written = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(padded.data()),
                                      static_cast<int>(padded.size()));
  if (written < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes the padding stands for.
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(written) - padding);
}

std::string sign_token(std::string_view secret, std::string_view header_json, std::string_view payload_json) {
  std::string token = base64url_encode(header_json) + "." + base64url_encode(payload_json);
  unsigned char signature[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(token.data()), token.size(), signature, &size) == nullptr) {
    throw std::runtime_error("HMAC-SHA256 failed");
  }
  return token + "." + base64url_encode(std::string_view(reinterpret_cast<const char*>(signature), size));
}

}  // namespace chat::test
