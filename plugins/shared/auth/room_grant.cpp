#include "auth/room_grant.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace chat::auth {

std::optional<RoomGrant> RoomGrant::from_claim(const boost::json::value& claim) {
  const auto* entries = claim.if_array();
  if (entries == nullptr || entries->empty() || entries->size() > kMaxEntries) return std::nullopt;
  RoomGrant grant;
  grant.all_ = false;
  for (const auto& entry : *entries) {
    const auto* text = entry.if_string();
    if (text == nullptr || text->empty() || text->size() > kMaxEntryBytes) return std::nullopt;
    const std::string_view name(*text);
    if (name == "*") {
      grant.all_ = true;
    } else if (name.back() == '*') {
      grant.prefixes_.emplace_back(name.substr(0, name.size() - 1));
    } else {
      grant.exact_.emplace_back(name);
    }
  }
  std::sort(grant.exact_.begin(), grant.exact_.end());
  return grant;
}

bool RoomGrant::allows(std::string_view room) const {
  if (all_) return true;
  if (std::binary_search(exact_.begin(), exact_.end(), room)) return true;
  return std::any_of(prefixes_.begin(), prefixes_.end(),
                     [room](const std::string& prefix) { return room.substr(0, prefix.size()) == prefix; });
}

std::string RoomGrant::describe() const {
  if (all_) return "every room";
  std::string out;
  for (const auto& name : exact_) out += (out.empty() ? "" : ", ") + name;
  for (const auto& prefix : prefixes_) out += (out.empty() ? "" : ", ") + prefix + "*";
  return out;
}

}  // namespace chat::auth
