#include "handshake.hpp"

#include "frames.hpp"

#include "chat_text.hpp"

#include <algorithm>

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
      return {.target = std::nullopt, .http_status = 400, .error = bad->message};
    }
    (name == "user" ? result.user : result.room) = std::move(*value);
  }
  if (!result.room.empty() && result.user.empty()) {
    return {.target = std::nullopt, .http_status = 400, .error = "room= needs user= (who joins the room)"};
  }
  return {.target = result, .http_status = 0, .error = ""};
}

bool origin_allowed(std::string_view origin, bool has_origin, const std::vector<std::string>& allowed) {
  if (!has_origin) return true;
  return std::any_of(allowed.begin(), allowed.end(),
                     [origin](const std::string& entry) { return entry == "*" || entry == origin; });
}

}  // namespace chat::proxy
