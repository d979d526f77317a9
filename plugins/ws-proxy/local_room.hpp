// One room as an upstream link sees it: the local connections in it, as which
// user, and the newest sequence they were given. Fan-out happens here: a
// message is serialized once by the caller and that one frame goes to every
// live member (STYLE: one shared buffer per message, not one per recipient).
//
// Not synchronized: the UpstreamLink that owns it holds its lock.
#pragma once

#include "client.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace chat::proxy {

// One local connection in a room.
struct Membership {
  ClientPtr client;
  std::string user;
  bool live = false;       // gets the room's messages as they come
  bool join_sent = false;  // its Join is on the current call
  bool answer = false;     // its Joined and snapshot are forwarded to it
  std::optional<std::uint64_t> since;
};

class LocalRoom {
 public:
  // Delivers `message`, serialized as `frame`, to every live member, unless
  // a message with its sequence or a later one was delivered already (a
  // replay overlapping live traffic). The frame is shared, not copied; only
  // a sender whose message id was rewritten upstream gets a frame of its own
  // with its id (see remember_echo_id). `replayed`: the message is part of
  // a replay after the link came back (Client::send_replayed).
  void deliver(const ChatMessage& message, const Frame& frame, bool replayed = false);
  // An event for clients of the full protocol (presence, joined): `frame`
  // to every live member that speaks events.
  void tell_live_members(const Frame& frame) const;
  // The message stored as `sequence` was sent by `client_id` as `id`.
  void remember_echo_id(std::uint64_t sequence, std::uint64_t client_id, std::string id);
  // The call that stored the remembered messages is gone.
  void forget_echo_ids() { echo_ids_.clear(); }

  std::optional<std::uint64_t> last_sequence;   // newest delivered to the live members
  std::map<std::uint64_t, Membership> members;  // by client id
  std::map<std::string, std::size_t> users;     // user -> local connections: joined upstream while > 0

 private:
  // sequence -> (client id, the client's message id).
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::string>> echo_ids_;
};

}  // namespace chat::proxy
