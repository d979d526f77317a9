#include "history_query.hpp"

#include "text_decoding.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <optional>
#include <vector>

namespace chat::history_http {
namespace {

constexpr std::size_t kMaxNameInError = 64;

// A client-chosen name made safe to echo in an error: printable ASCII only.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, kMaxNameInError)) out += (c >= 0x20 && c < 0x7F) ? c : '?';
  return out;
}

// Decimal digits only: no sign, no spaces, no exponent; nullopt on overflow.
std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// room and user: the ids of chat.proto, 1..128 bytes of UTF-8.
std::optional<QueryError> check_id(const std::string& name, const std::string& value) {
  if (value.empty()) {
    return QueryError{name, name + " must not be empty" +
                                (name == "user" ? std::string(" (leave it out for every sender)") : "")};
  }
  if (value.size() > kMaxIdBytes) {
    return QueryError{name, name + " must be at most " + std::to_string(kMaxIdBytes) + " bytes"};
  }
  if (!is_valid_utf8(value)) return QueryError{name, name + " must be valid UTF-8"};
  return std::nullopt;
}

// A query's parameters by name, each at most once and each one of `known`,
// still to be checked one by one; or what is wrong with it.
using Values = std::map<std::string, std::string, std::less<>>;

std::variant<Values, QueryError> read_parameters(std::string_view query, const std::vector<std::string_view>& known) {
  Values values;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const auto eq = pair.find('=');
    const std::string_view raw_name = pair.substr(0, eq);
    const std::string_view raw_value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);

    auto name = percent_decode(raw_name, true);
    if (!name) return QueryError{printable(raw_name), "invalid percent-encoding in a parameter name"};
    if (std::find(known.begin(), known.end(), *name) == known.end()) {
      std::string listed;
      for (const auto& k : known) listed += (listed.empty() ? "" : ", ") + std::string(k);
      return QueryError{printable(*name), "unknown parameter '" + printable(*name) + "' (known: " + listed + ")"};
    }
    auto value = percent_decode(raw_value, true);
    if (!value) return QueryError{*name, *name + " has invalid percent-encoding"};
    if (!values.emplace(*name, std::move(*value)).second) {
      return QueryError{*name, *name + " is given more than once"};
    }
  }
  return values;
}

// room= (required, checked) and limit= (from 1 to `most`, `fallback` when
// absent): what every query names, set on its request.
template <typename Request>
std::optional<QueryError> read_room_and_limit(const Values& values, std::uint32_t fallback, std::uint32_t most,
                                              Request& request) {
  const auto room = values.find("room");
  if (room == values.end()) return QueryError{"room", "room is required"};
  if (auto error = check_id("room", room->second)) return error;
  request.set_room_id(room->second);
  std::uint32_t limit = fallback;
  if (const auto given = values.find("limit"); given != values.end()) {
    const auto n = parse_unsigned(given->second);
    if (!n || *n < 1 || *n > most) {
      return QueryError{"limit", "limit must be an integer from 1 to " + std::to_string(most)};
    }
    limit = static_cast<std::uint32_t>(*n);
  }
  request.set_limit(limit);
  return std::nullopt;
}

}  // namespace

HistoryQuery parse_history_query(std::string_view query) {
  auto read = read_parameters(query, {"room", "user", "limit", "before", "after", "access_token"});
  if (auto* error = std::get_if<QueryError>(&read)) return std::move(*error);
  const auto& values = std::get<Values>(read);

  chat::GetChatHistoryRequest request;
  if (auto error = read_room_and_limit(values, kDefaultHistoryLimit, kMaxHistoryLimit, request)) {
    return std::move(*error);
  }

  if (const auto user = values.find("user"); user != values.end()) {
    if (auto error = check_id("user", user->second)) return std::move(*error);
    request.set_sender_id(user->second);
  }

  if (const auto before = values.find("before"); before != values.end()) {
    const auto n = parse_unsigned(before->second);
    // before = 0 would mean "no bound" to the chat service: refuse it rather
    // than answer something other than what was asked.
    if (!n || *n < 1) return QueryError{"before", "before must be a message sequence number (an integer >= 1)"};
    request.set_before(*n);
  }

  if (const auto after = values.find("after"); after != values.end()) {
    const auto n = parse_unsigned(after->second);
    if (!n) return QueryError{"after", "after must be a message sequence number (an integer >= 0)"};
    request.set_after(*n);
  }

  if (request.before() != 0 && request.has_after() && request.before() <= request.after()) {
    return QueryError{"before", "before must be greater than after"};
  }
  return request;
}

SendersQuery parse_senders_query(std::string_view query) {
  auto read = read_parameters(query, {"room", "limit", "access_token"});
  if (auto* error = std::get_if<QueryError>(&read)) return std::move(*error);
  const auto& values = std::get<Values>(read);

  chat::GetRoomSendersRequest request;
  if (auto error = read_room_and_limit(values, kDefaultSendersLimit, kMaxSendersLimit, request)) {
    return std::move(*error);
  }
  return request;
}

}  // namespace chat::history_http
