#include "frame_router.hpp"

#include "chat_json.hpp"

#include <algorithm>

namespace chat::proxy {
namespace {

// Answers a refused `frame` with `error`, naming the room, user and message
// it carried so the client can tell which one failed.
void send_refusal(Client& client, Error error, const char* frame, const std::string& room,
                  const std::string& user, const std::string& id = {}) {
  error.set_frame(frame);
  name_refused(error, id, room, user);
  client.send(make_error_frame(error));
}

// The ids every join and leave carries.
std::optional<Error> check_room_and_user(const std::string& room, const std::string& user, const char* frame) {
  auto bad = check_id(room, "room_id", frame);
  if (!bad) bad = check_id(user, "user_id", frame);
  return bad;
}

// What a connection says of a room it is in (leave, typing): as its own
// user (filled in when the frame leaves it out), of a room it joined
// (`member`, as the room's link says). When not, the frame is answered with
// the refusal and false returned.
template <typename Frame>
bool said_by_member(RoutedClient& client, Frame& frame, const char* kind, bool member) {
  const ClientState& state = client.chat_state();
  if (frame.user_id().empty() && !state.user.empty()) frame.set_user_id(state.user);
  const std::string& room = frame.room_id();
  const std::string& user = frame.user_id();
  auto bad = check_room_and_user(room, user, kind);
  if (!bad && user != state.user) {
    bad = make_error(Error::NOT_ALLOWED, state.user.empty()
                                          ? "this connection has not joined as anyone"
                                          : "this connection is user '" + state.user + "', not '" + user + "'");
  }
  if (!bad && !member) bad = make_error(Error::NOT_MEMBER, "not in room '" + room + "'");
  if (bad) send_refusal(client, std::move(*bad), kind, room, user);
  return !bad;
}

Error not_granted(const std::string& room) {
  return make_error(Error::NOT_ALLOWED, "the token does not grant room '" + room + "'");
}

Error too_many_rooms(std::size_t limit) {
  return make_error(Error::NOT_ALLOWED, "a connection may be in at most " + std::to_string(limit) + " rooms");
}

}  // namespace

FrameRouter::FrameRouter(const ProxyOptions& options, const std::vector<std::unique_ptr<UpstreamLink>>& links,
                         std::function<bool()> announced_available)
    : options_(options), links_(links), announced_available_(std::move(announced_available)) {}

UpstreamLink& FrameRouter::link_for(const std::string& room) const {
  if (links_.size() == 1) return *links_.front();
  return *links_[std::hash<std::string>{}(room) % links_.size()];
}

void FrameRouter::opened(const RoutedClientPtr& client, const UpgradeTarget& target) {
  ClientState& state = client->chat_state();
  state.granted = target.rooms;
  if (!target.user.empty()) {
    state.user = target.user;
    client->set_full_protocol();
  }
  if (!target.room.empty() && link_for(target.room).join(client, target.room, state.user, std::nullopt, true)) {
    ++state.rooms;
  }
}

void FrameRouter::closed(RoutedClient& client) {
  ClientState& state = client.chat_state();
  state.typing_passed.clear();
  if (state.rooms == 0) return;
  for (const auto& link : links_) link->leave_all(client);
  state.rooms = 0;
}

void FrameRouter::on_text(const RoutedClientPtr& client, std::string_view text) {
  ChatStream frame;
  if (auto why = chat::json::decode(text, frame); !why.empty()) {
    client->send(make_error_frame(describe_bad_frame(text, why)));
    return;
  }
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage: on_chat_message(client, *frame.mutable_chat_message()); return;
    case ChatStream::kJoin: on_join(client, *frame.mutable_join()); return;
    case ChatStream::kLeave: on_leave(*client, *frame.mutable_leave()); return;
    case ChatStream::kTyping: on_typing(*client, *frame.mutable_typing()); return;
    case ChatStream::PAYLOAD_NOT_SET:
      client->send(
          make_error_frame(make_error(Error::UNKNOWN_PAYLOAD, "frame has no payload; send chat_message, join or leave")));
      return;
    default: {
      const std::string name(payload_name(frame));
      client->send(make_error_frame(make_error(
          Error::UNKNOWN_PAYLOAD, "clients do not send " + name + " frames; send chat_message, join or leave", name)));
      return;
    }
  }
}

void FrameRouter::on_chat_message(const RoutedClientPtr& client, ChatMessage& message) {
  ClientState& state = client->chat_state();
  if (message.sender_id().empty() && !state.user.empty()) message.set_sender_id(state.user);
  auto refuse = [&](Error error) {
    send_refusal(*client, std::move(error), "chat_message", message.room_id(), message.sender_id(), message.id());
  };
  std::optional<Error> bad = check_id(message.room_id(), "room_id", "chat_message");
  if (!bad) bad = check_id(message.sender_id(), "sender_id", "chat_message");
  if (!bad) bad = check_id(message.id(), "id", "chat_message", /*required=*/false);
  if (!bad && message.content().empty()) {
    bad = make_error(Error::MISSING_FIELD, "content is required");
  }
  if (bad) return refuse(std::move(*bad));
  if (!state.user.empty() && message.sender_id() != state.user) {
    return refuse(make_error(Error::NOT_ALLOWED, "this connection is user '" + state.user + "'; it cannot send as '" +
                                                  message.sender_id() + "'"));
  }
  if (!state.granted.allows(message.room_id())) return refuse(not_granted(message.room_id()));
  state.user = message.sender_id();
  // A client not in the room joins it by sending, room limit allowing.
  const bool may_join = state.rooms < options_.max_rooms_per_connection;
  UpstreamLink& link = link_for(message.room_id());
  SendResult result = link.send_message(client, message, may_join);
  if (result == SendResult::Unavailable && announced_available_()) {
    // Clients are told the service is back a moment before the links re-join
    // their rooms and take messages (link_status_changed): a client quick to
    // answer "available" must not be refused. Past the Bridge's lock that
    // moment is over.
    result = link.send_message(client, message, may_join);
  }
  switch (result) {
    case SendResult::Sent: return;
    case SendResult::Joined: ++state.rooms; return;
    case SendResult::RoomLimit: return refuse(too_many_rooms(options_.max_rooms_per_connection));
    case SendResult::Unavailable:
      return refuse(make_error(Error::UNAVAILABLE, "not sent: the chat service is unavailable"));
    case SendResult::Busy: return refuse(make_error(Error::UNAVAILABLE, "not sent: the chat service is busy; try again"));
  }
}

void FrameRouter::on_join(const RoutedClientPtr& client, Join& join) {
  ClientState& state = client->chat_state();
  if (join.user_id().empty() && !state.user.empty()) join.set_user_id(state.user);
  auto refuse = [&](Error error) {
    send_refusal(*client, std::move(error), "join", join.room_id(), join.user_id());
  };
  if (auto bad = check_room_and_user(join.room_id(), join.user_id(), "join")) return refuse(std::move(*bad));
  if (!state.user.empty() && join.user_id() != state.user) {
    return refuse(make_error(Error::NOT_ALLOWED,
                          "this connection is user '" + state.user + "'; it cannot join as '" + join.user_id() + "'"));
  }
  if (!state.granted.allows(join.room_id())) return refuse(not_granted(join.room_id()));
  UpstreamLink& link = link_for(join.room_id());
  if (state.rooms >= options_.max_rooms_per_connection && !link.is_member(*client, join.room_id())) {
    return refuse(too_many_rooms(options_.max_rooms_per_connection));
  }
  state.user = join.user_id();
  client->set_full_protocol();
  std::optional<std::uint64_t> since;
  if (join.has_since()) since = join.since();
  if (link.join(client, join.room_id(), join.user_id(), since, true)) ++state.rooms;
}

void FrameRouter::on_leave(RoutedClient& client, Leave& leave) {
  UpstreamLink& link = link_for(leave.room_id());
  if (!said_by_member(client, leave, "leave", link.is_member(client, leave.room_id()))) return;
  ClientState& state = client.chat_state();
  state.typing_passed.erase(leave.room_id());
  if (link.leave(client, leave.room_id(), leave.user_id())) --state.rooms;
}

void FrameRouter::on_typing(RoutedClient& client, Typing& typing) {
  UpstreamLink& link = link_for(typing.room_id());
  ClientState& state = client.chat_state();
  // Typing comes with every few keystrokes: a room the connection was let
  // type in is one it is in (leaving forgets it), so the link, and its lock,
  // are asked only the first time.
  const bool member = state.typing_passed.contains(typing.room_id()) || link.is_member(client, typing.room_id());
  if (!said_by_member(client, typing, "typing", member)) return;
  const auto now = std::chrono::steady_clock::now();
  if (typing.stopped()) {
    state.typing_passed.erase(typing.room_id());
  } else {
    auto [passed, first] = state.typing_passed.try_emplace(typing.room_id(), now);
    if (!first) {
      if (now - passed->second < std::chrono::seconds(1)) return;  // said a moment ago
      passed->second = now;
    }
  }
  link.typing(typing.room_id(), typing.user_id(), typing.stopped());
}

}  // namespace chat::proxy
