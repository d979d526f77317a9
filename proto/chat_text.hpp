// Checks and decoding of the text clients send, shared by every plugin: ids
// and content must be UTF-8 (protobuf refuses strings that are not), and
// request targets are percent-encoded.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace chat::text {

// Whether `text` is well-formed UTF-8: no overlong forms, no surrogates,
// nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// Percent-decodes `text` once (RFC 3986): "%252e" becomes "%2e", never ".".
// `plus_is_space`: '+' means ' ', as in query strings from HTML forms and
// URLSearchParams. nullopt for a malformed escape ("%", "%2", "%zz").
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace chat::text
