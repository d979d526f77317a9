// Hand-written rather than std::regex: the same answers (checked against the
// expressions in host_port.hpp), without compiling <regex> for two patterns.
#include "host_port.hpp"

namespace chat::history_http {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }

}  // namespace

bool is_host_port(std::string_view text, Letters letters) {
  const bool upper_ok = letters == Letters::any_case;
  std::size_t i = 0;
  if (!text.empty() && text.front() == '[') {
    // An IPv6 address: hex digits, ':' and '.' (an embedded IPv4 address).
    for (i = 1; i < text.size(); ++i) {
      const char c = text[i];
      const bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (upper_ok && c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') break;
    }
    if (i == 1 || i == text.size() || text[i] != ']') return false;
    ++i;
  } else {
    // A name or an IPv4 address.
    while (i < text.size() && (is_digit(text[i]) || is_lower(text[i]) || (upper_ok && is_upper(text[i])) ||
                               text[i] == '.' || text[i] == '-')) {
      ++i;
    }
    if (i == 0) return false;
  }
  if (i == text.size()) return true;
  if (text[i] != ':') return false;
  const std::string_view port = text.substr(i + 1);
  if (port.empty() || port.size() > 5) return false;
  for (const char c : port) {
    if (!is_digit(c)) return false;
  }
  return true;
}

bool is_origin(std::string_view text) {
  // The scheme: a letter, then letters, digits, '+', '.' and '-'.
  if (text.empty() || !is_lower(text.front())) return false;
  std::size_t i = 1;
  while (i < text.size() &&
         (is_lower(text[i]) || is_digit(text[i]) || text[i] == '+' || text[i] == '.' || text[i] == '-')) {
    ++i;
  }
  if (text.substr(i, 3) != "://") return false;
  return is_host_port(text.substr(i + 3), Letters::lowercase);
}

}  // namespace chat::history_http
