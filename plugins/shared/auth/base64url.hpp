// base64url (RFC 4648 section 5) without padding, as JWTs use it (RFC 7515
// section 2).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chat::auth {

std::string base64url_encode(std::string_view bytes);

// Strict: only A-Z a-z 0-9 - _, no '=' padding, no whitespace, and the unused
// low bits of the last character zero, so that one byte string has exactly
// one encoding (a signature cannot be re-spelt). nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace chat::auth
