// Tokens of any shape, for tests of the verifier: a header and a payload as
// given (not what a well-behaved issuer writes), signed HS256 with a secret.
// libjwt writes only well-formed tokens, so these are built here.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chat::test {

// base64url without padding (RFC 4648 section 5).
std::string base64url_encode(std::string_view bytes);
// nullopt when `text` is not base64url.
std::optional<std::string> base64url_decode(std::string_view text);

// header.payload.signature in JWS compact form, HMAC-SHA256 over the two
// JSON texts as given.
std::string sign_token(std::string_view secret, std::string_view header_json, std::string_view payload_json);

}  // namespace chat::test
