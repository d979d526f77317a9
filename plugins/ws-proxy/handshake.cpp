#include "handshake.hpp"

#include "frames.hpp"

#include "chat_text.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>

namespace chat::proxy {
TargetCheck check_target(std::string_view target) {
  const auto question = target.find('?');
  const std::string_view path = target.substr(0, question);
  if (path != "/" && path != "/ws") {
    return {.target = std::nullopt, .http_status = 404, .error = "no WebSocket endpoint here: use / or /ws"};
  }
  UpgradeTarget result;
  if (question == std::string_view::npos) return {.target = result, .http_status = 0, .error = ""};

  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (name != "user" && name != "room") continue;  // other parameters are the page's business
    auto value = chat::text::percent_decode(raw, /*plus_is_space=*/true);
    if (!value) return {.target = std::nullopt, .http_status = 400, .error = std::string(name) + ": bad %-escape"};
    if (auto bad = check_id(*value, name, "query")) {
      return {.target = std::nullopt, .http_status = 400, .error = bad->message()};
    }
    (name == "user" ? result.user : result.room) = std::move(*value);
  }
  return {.target = result, .http_status = 0, .error = ""};
}

bool origin_allowed(std::string_view origin, bool has_origin, const std::vector<std::string>& allowed) {
  if (!has_origin) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [origin](const std::string& entry) { return entry == "*" || entry == origin; });
}

bool valid_websocket_key(std::string_view key) {
  // 16 bytes are 22 base64 characters and "==".
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
}

std::string websocket_accept(std::string_view key) {
  static constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  std::string input(key);
  input.append(kGuid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_bytes = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &digest_bytes, EVP_sha1(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> text{};
  const int length = EVP_EncodeBlock(text.data(), digest.data(), static_cast<int>(digest_bytes));
  return std::string(reinterpret_cast<const char*>(text.data()), static_cast<std::size_t>(length));
}

}  // namespace chat::proxy
