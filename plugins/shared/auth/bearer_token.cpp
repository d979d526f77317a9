#include "auth/bearer_token.hpp"

#include "chat_text.hpp"  // from chat_proto

#include <algorithm>
#include <cctype>

namespace chat::auth {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

PresentedToken presented_token(std::string_view authorization, std::string_view target) {
  PresentedToken result;
  int presented = 0;

  authorization = trim(authorization);
  if (!authorization.empty()) {
    const auto space = std::find_if(authorization.begin(), authorization.end(), is_space);
    const std::string_view scheme(authorization.data(), static_cast<std::size_t>(space - authorization.begin()));
    if (iequals(scheme, "Bearer")) {  // the scheme is case-insensitive (RFC 9110 section 11.1)
      ++presented;
      const std::string_view credentials = trim(authorization.substr(scheme.size()));
      if (credentials.empty() || std::any_of(credentials.begin(), credentials.end(), is_space)) {
        return {.token = std::nullopt, .error = "malformed Authorization header (expected: Bearer <token>)"};
      }
      result.token = std::string(credentials);
    }
  }

  const auto question = target.find('?');
  std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != "access_token") continue;
    ++presented;
    const auto value =
        chat::text::percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!value) return {.token = std::nullopt, .error = "access_token has invalid percent-encoding"};
    if (value->empty()) return {.token = std::nullopt, .error = "access_token must not be empty"};
    result.token = std::move(*value);
  }

  if (presented > 1) return {.token = std::nullopt, .error = "more than one token in the request"};
  return result;
}

std::string redact_access_token(std::string_view target) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, question + 1));
  std::string_view query = target.substr(question + 1);
  bool first = true;
  while (true) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == "access_token" && eq != std::string_view::npos) {
      out += "access_token=REDACTED";
    } else {
      out += pair;
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

}  // namespace chat::auth
