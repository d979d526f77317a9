// One room as an upstream link sees it: the local connections in it, as which
// user, and the newest sequence they were given. Fan-out starts here: a
// message is serialized once by the caller, and that one frame goes to each
// shard with live members, with the list of them (fanout.hpp; STYLE: one
// shared buffer per message, not one per recipient).
//
// Not synchronized: the UpstreamLink that owns it holds its lock.
#pragma once

#include "client.hpp"
#include "fanout.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace chat::proxy {

// One local connection in a room.
struct Membership {
  ClientPtr client;
  std::string user;
  bool join_sent = false;  // its Join is on the current call
  bool answer = false;     // its Joined and snapshot are forwarded to it
  std::optional<std::uint64_t> since;

  // Gets the room's messages as they come (LocalRoom::set_live).
  bool live() const { return live_; }

 private:
  friend class LocalRoom;
  bool live_ = false;
};

class LocalRoom {
 public:
  explicit LocalRoom(const Fanout& fanout) : fanout_(&fanout) {}

  // Delivers `message`, serialized as `frame`, to every live member, unless
  // a message with its sequence or a later one was delivered already (a
  // replay overlapping live traffic). The frame is shared, not copied; only
  // a sender whose message id was rewritten upstream gets a frame of its own
  // with its id (see remember_echo_id).
  void deliver(const ChatMessage& message, const Frame& frame, Delivery how = Delivery::live);
  // An event for clients of the full protocol (presence, typing): `frame`
  // to every live member that speaks events.
  void tell_live_members(const Frame& frame);
  // The message stored as `sequence` was sent by `client_id` as `id`.
  void remember_echo_id(std::uint64_t sequence, std::uint64_t client_id, std::string id);
  // The call that stored the remembered messages is gone.
  void forget_echo_ids() { echo_ids_.clear(); }

  // --- who is in the room
  // `client` joins as `user` unless it is a member already (not live yet):
  // the member, and whether it is new.
  std::pair<Membership*, bool> add(const ClientPtr& client, const std::string& user);
  // Removes a member: false if it was not one. `user_gone`: its user has no
  // other connection in the room now.
  bool remove(std::uint64_t client_id, bool& user_gone);
  Membership* find(std::uint64_t client_id);
  void set_live(Membership& member, bool live);
  bool empty() const { return members_.empty(); }
  bool has_live_member() const;
  // Each member with its client id; `visit` may change anything but liveness.
  template <typename Visit>
  void for_each_member(Visit visit) {
    for (auto& [client_id, member] : members_) visit(client_id, member);
  }
  // user -> local connections: joined upstream while > 0.
  const std::map<std::string, std::size_t>& users() const { return users_; }

  std::optional<std::uint64_t> last_sequence;  // newest delivered to the live members

 private:
  // The live members of each shard, rebuilt after a change. Shared with the
  // deliveries under way, so never changed in place.
  const std::vector<std::shared_ptr<const Fanout::Recipients>>& live_by_shard();
  void send_to_live(const Frame& frame, Delivery how, std::uint64_t except = 0);

  const Fanout* fanout_;
  std::map<std::uint64_t, Membership> members_;  // by client id
  std::map<std::string, std::size_t> users_;
  std::vector<std::shared_ptr<const Fanout::Recipients>> live_by_shard_;
  bool live_changed_ = true;
  // sequence -> (client id, the client's message id).
  std::unordered_map<std::uint64_t, std::pair<std::uint64_t, std::string>> echo_ids_;
};

}  // namespace chat::proxy
