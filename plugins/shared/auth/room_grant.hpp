// Which rooms a token lets its user into: the token's `rooms` claim, a list
// of exact room names and `prefix*` patterns ("team-*" is every room whose
// name starts with "team-"; "*" alone is every room). A token without the
// claim grants every room. Checked on join (and so on replay), on send, and
// on /history.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::auth {

class RoomGrant {
 public:
  // Entries in one claim at most, and bytes in one entry (an id is 1..128).
  static constexpr std::size_t kMaxEntries = 256;
  static constexpr std::size_t kMaxEntryBytes = 129;

  // Every room.
  RoomGrant() = default;
  // From a `rooms` claim: an array of 1..kMaxEntries strings of
  // 1..kMaxEntryBytes bytes; nullopt when it is anything else.
  static std::optional<RoomGrant> from_claim(const boost::json::value& claim);

  bool allows(std::string_view room) const;
  bool all() const { return all_; }
  // For messages: "every room", or the entries as given.
  std::string describe() const;

 private:
  bool all_ = true;
  std::vector<std::string> exact_;
  std::vector<std::string> prefixes_;
};

}  // namespace chat::auth
