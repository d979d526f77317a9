// The two address shapes history-http checks: a Host header's host[:port],
// and an origin as browsers serialize it (scheme://host[:port]).
#pragma once

#include <string_view>

namespace chat::history_http {

enum class Letters { any_case, lowercase };

// host[:port]: a name or IPv4 address (letters, digits, '.', '-') or an IPv6
// address in brackets (hex digits, ':', '.'), then at most one ":port" of 1
// to 5 digits. The same as the regular expression
// ^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?$ (lowercase: without A-Z).
bool is_host_port(std::string_view text, Letters letters);

// scheme://host[:port], all lowercase: the same as
// ^[a-z][a-z0-9+.-]*://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?$
bool is_origin(std::string_view text);

}  // namespace chat::history_http
