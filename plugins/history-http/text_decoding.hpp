// Decoding what clients put in a request target: percent-escapes and UTF-8.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chat::history_http {

// Percent-decodes `text` once (RFC 3986): "%252e" becomes "%2e", never ".".
// `plus_is_space`: '+' means ' ', as in query strings from HTML forms and
// URLSearchParams. nullopt for a malformed escape ("%", "%2", "%zz").
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing above U+10FFFF): protobuf refuses strings that are not.
bool is_valid_utf8(std::string_view text);

}  // namespace chat::history_http
