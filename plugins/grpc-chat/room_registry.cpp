#include "room_registry.hpp"

#include <google/protobuf/util/time_util.h>

namespace chat::service {
std::string server_id_of(const store::StoredMessage& message) {
  return message.room_id + ":" + std::to_string(message.sequence);
}

void to_proto(const store::StoredMessage& message, ChatMessage& out) {
  std::string server_id = server_id_of(message);
  out.set_id(message.client_id.empty() ? server_id : message.client_id);
  out.set_room_id(message.room_id);
  out.set_sender_id(message.sender_id);
  out.set_content(message.content);
  out.set_sequence(message.sequence);
  *out.mutable_timestamp() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(message.timestamp_ms);
  out.set_server_id(std::move(server_id));
}

ChatMessage to_proto(const store::StoredMessage& message) {
  ChatMessage out;
  to_proto(message, out);
  return out;
}

RoomRegistry::RoomRegistry(store::HistoryStore& store, const ServiceLimits& limits) : store_(store), limits_(limits) {
  for (auto& sender : store_.senders()) known_users_.insert(std::move(sender));
}

void RoomRegistry::add_session(const SessionPtr& session) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(session->id(), session);
}

void RoomRegistry::remove_session(const SessionPtr& session) {
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session->id());
    if (auto it = memberships_.find(session->id()); it != memberships_.end()) {
      for (const auto& [room_id, user] : it->second) {
        auto room = rooms_.find(room_id);
        if (room != rooms_.end()) remove_member_locked(room_id, room->second, session->id(), user);
      }
      memberships_.erase(it);
    }
    if (auto it = watches_.find(session->id()); it != watches_.end()) {
      for (const auto& room_id : it->second) remove_watch_locked(room_id, session->id());
      watches_.erase(it);
    }
    // Under the lock: once wait_all_ended() sees no session it may return
    // and the plugin destroy this registry, so nothing of it may be touched
    // after the unlock (notifying after it raced with the destructor: TSan).
    sessions_changed_.notify_all();
  }
}

bool RoomRegistry::wait_all_ended(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return sessions_changed_.wait_until(lock, deadline, [this] { return sessions_.empty(); });
}

RoomRegistry::Room& RoomRegistry::room_locked(const std::string& room_id) {
  auto it = rooms_.find(room_id);
  if (it != rooms_.end()) return it->second;
  // A room comes alive with what is committed: deliver() skips anything at
  // or below this, so a message committed just before is never sent twice.
  Room room;
  room.last_sequence = store_.bounds(room_id).last_sequence;
  read_presence_elsewhere(room_id, room);
  return rooms_.emplace(room_id, std::move(room)).first->second;
}

void RoomRegistry::read_presence_elsewhere(const std::string& room_id, Room& room) {
  try {
    room.elsewhere.clear();
    for (auto& [user, node] : store_.present_elsewhere(room_id)) room.elsewhere[user].insert(std::move(node));
  } catch (const store::StoreError&) {
    // Unknown for now: the catch-up once the store answers reads it again.
  }
}

bool RoomRegistry::present_locked(const Room& room, const std::string& user) {
  return room.user_streams.contains(user) || room.elsewhere.contains(user);
}

std::size_t RoomRegistry::online_count_locked(const Room& room) {
  std::size_t count = room.user_streams.size();
  for (const auto& [user, nodes] : room.elsewhere) {
    if (!room.user_streams.contains(user)) ++count;
  }
  return count;
}

bool RoomRegistry::add_member_locked(const std::string& room_id, Room& room, const SessionPtr& session,
                                     const std::string& user) {
  auto& member = room.members[session->id()];
  member.session = session;
  if (!member.users.insert(user).second) return false;
  known_users_.insert(user);
  ++online_[user];
  const bool elsewhere = room.elsewhere.contains(user);
  if (room.user_streams[user]++ != 0) return false;
  store_.set_present(room_id, user, true);
  return !elsewhere;  // new to the room, on every node
}

void RoomRegistry::presence_elsewhere(const std::string& room_id, const std::string& user, const std::string& node,
                                      bool joined) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;  // nobody here to tell; a join reads the store
  Room& room = it->second;
  const bool before = present_locked(room, user);
  if (joined) {
    room.elsewhere[user].insert(node);
    known_users_.insert(user);
  } else if (auto entry = room.elsewhere.find(user); entry != room.elsewhere.end()) {
    entry->second.erase(node);
    if (entry->second.empty()) room.elsewhere.erase(entry);
  }
  const bool after = present_locked(room, user);
  if (before != after) send_presence_locked(room_id, room, after ? Presence::JOINED : Presence::LEFT, user, nullptr);
}

void RoomRegistry::refresh_presence_locked(const std::string& room_id, Room& room) {
  const auto before = room.elsewhere;
  read_presence_elsewhere(room_id, room);
  for (const auto& [user, nodes] : before) {
    if (!present_locked(room, user)) send_presence_locked(room_id, room, Presence::LEFT, user, nullptr);
  }
  for (const auto& [user, nodes] : room.elsewhere) {
    if (!before.contains(user) && !room.user_streams.contains(user)) {
      send_presence_locked(room_id, room, Presence::JOINED, user, nullptr);
    }
  }
}

bool RoomRegistry::remove_member_locked(const std::string& room_id, Room& room, std::uint64_t session_id,
                                        const std::string& user) {
  auto member = room.members.find(session_id);
  if (member == room.members.end() || member->second.users.erase(user) == 0) return false;
  if (member->second.users.empty() && !member->second.watching) room.members.erase(member);
  if (auto online = online_.find(user); online != online_.end() && --online->second == 0) online_.erase(online);
  if (--room.user_streams[user] == 0) {
    room.user_streams.erase(user);
    room.typing_passed.erase(user);
    store_.set_present(room_id, user, false);
    // Still in the room through another node: nothing to tell.
    if (!room.elsewhere.contains(user)) send_presence_locked(room_id, room, Presence::LEFT, user, nullptr);
  }
  if (room.members.empty()) {
    behind_.erase(room_id);
    rooms_.erase(room_id);
  }
  return true;
}

void RoomRegistry::send_presence_locked(const std::string& room_id, const Room& room, Presence::Kind kind,
                                        const std::string& user, const SessionPtr& only_to) {
  ChatStream frame;
  auto* presence = frame.mutable_presence();
  presence->set_room_id(room_id);
  presence->set_kind(kind);
  presence->set_user_id(user);
  presence->set_online_count(static_cast<std::uint32_t>(online_count_locked(room)));
  if (kind == Presence::SNAPSHOT) {
    // The list goes to the joiner only, and only so long: a room of
    // thousands would make every join a long frame.
    for (const auto& [name, streams] : room.user_streams) {
      if (static_cast<std::size_t>(presence->online_size()) >= limits_.presence_list_max) break;
      presence->add_online(name);
    }
    for (const auto& [name, nodes] : room.elsewhere) {
      if (static_cast<std::size_t>(presence->online_size()) >= limits_.presence_list_max) break;
      if (!room.user_streams.contains(name)) presence->add_online(name);
    }
  }
  auto event = encode(frame);
  if (only_to) {
    only_to->send(event);
    return;
  }
  for (const auto& [id, member] : room.members) {
    if (member.session->speaks_full_protocol()) member.session->send(event);
  }
}

void RoomRegistry::join(const SessionPtr& session, const std::string& room_id, const std::string& user,
                        std::optional<std::uint64_t> since) {
  session->set_full_protocol();
  std::lock_guard lock(mutex_);
  Room& room = room_locked(room_id);
  const bool new_in_room = add_member_locked(room_id, room, session, user);
  memberships_[session->id()].emplace(room_id, user);
  // Under the lock, so nothing is delivered between the replay and live.
  replay_locked(session, room_id, user, since, room.last_sequence);
  if (new_in_room) send_presence_locked(room_id, room, Presence::JOINED, user, nullptr);
  send_presence_locked(room_id, room, Presence::SNAPSHOT, "", session);
}

void RoomRegistry::replay_locked(const SessionPtr& session, const std::string& room_id, const std::string& user,
                                 std::optional<std::uint64_t> since, std::uint64_t last_sequence) {
  ChatStream answer;
  auto* joined = answer.mutable_joined();
  joined->set_room_id(room_id);
  joined->set_user_id(user);
  joined->set_last_sequence(last_sequence);
  const auto bounds = store_.bounds(room_id);
  joined->set_first_sequence(bounds.first_sequence);

  std::vector<store::StoredMessage> replay;
  if (since && *since < last_sequence) {
    const std::uint64_t missing = last_sequence - *since;
    const bool removed = bounds.first_sequence == 0 || *since + 1 < bounds.first_sequence;
    if (removed || missing > limits_.max_replay) {
      joined->set_history_gap(true);
    } else {
      store::HistoryQuery query;
      query.room_id = room_id;
      query.after = *since;
      query.before = last_sequence + 1;
      query.limit = static_cast<std::uint32_t>(missing);
      replay = store_.history(query).messages;
    }
  } else if (since && *since > last_sequence) {
    // The client has seen more than the room holds: the store was reset.
    joined->set_history_gap(true);
  }
  joined->set_replayed(replay.size());
  session->send(encode(answer));
  for (const auto& message : replay) {
    ChatStream frame;
    to_proto(message, *frame.mutable_chat_message());
    session->send(encode(frame));
  }
}

void RoomRegistry::join_implicitly(const SessionPtr& session, const std::string& room_id, const std::string& user) {
  std::lock_guard lock(mutex_);
  Room& room = room_locked(room_id);
  const bool new_in_room = add_member_locked(room_id, room, session, user);
  memberships_[session->id()].emplace(room_id, user);
  if (new_in_room) send_presence_locked(room_id, room, Presence::JOINED, user, nullptr);
}

bool RoomRegistry::is_member(const SessionPtr& session, const std::string& room_id, const std::string& user) const {
  std::lock_guard lock(mutex_);
  auto it = memberships_.find(session->id());
  return it != memberships_.end() && it->second.contains({room_id, user});
}

std::size_t RoomRegistry::memberships(const SessionPtr& session) const {
  std::lock_guard lock(mutex_);
  auto it = memberships_.find(session->id());
  auto watches = watches_.find(session->id());
  return (it == memberships_.end() ? 0 : it->second.size()) + (watches == watches_.end() ? 0 : watches->second.size());
}

void RoomRegistry::watch(const SessionPtr& session, const std::string& room_id, std::uint64_t token) {
  std::lock_guard lock(mutex_);
  Room& room = room_locked(room_id);
  auto& member = room.members[session->id()];
  member.session = session;
  member.watching = true;
  watches_[session->id()].insert(room_id);
  // Under the lock: a message whose commit was acknowledged before this
  // Watch came has been delivered (deliver() holds the lock from the room
  // counting it to its last member), so it is queued on this stream ahead
  // of the answer. Other nodes' commits are read from the store here, not
  // waited for: their wake-ups may still be on the way.
  if (store_.shared() && !fill_from_store_locked(room_id, room, 0)) {
    throw store::StoreError("the room's messages from other chat nodes could not be read");
  }
  ChatStream answer;
  auto* watching = answer.mutable_watching();
  watching->set_room_id(room_id);
  watching->set_token(token);
  watching->set_last_sequence(room.last_sequence);
  // Retention removes old messages: a reader's copy drops them too.
  watching->set_first_sequence(store_.bounds(room_id).first_sequence);
  session->send(encode(answer));
}

bool RoomRegistry::is_watching(const SessionPtr& session, const std::string& room_id) const {
  std::lock_guard lock(mutex_);
  auto it = watches_.find(session->id());
  return it != watches_.end() && it->second.contains(room_id);
}

bool RoomRegistry::unwatch(const SessionPtr& session, const std::string& room_id) {
  std::lock_guard lock(mutex_);
  auto it = watches_.find(session->id());
  if (it == watches_.end() || it->second.erase(room_id) == 0) return false;
  remove_watch_locked(room_id, session->id());
  return true;
}

void RoomRegistry::remove_watch_locked(const std::string& room_id, std::uint64_t session_id) {
  auto room = rooms_.find(room_id);
  if (room == rooms_.end()) return;
  auto member = room->second.members.find(session_id);
  if (member == room->second.members.end()) return;
  member->second.watching = false;
  if (!member->second.users.empty()) return;
  room->second.members.erase(member);
  if (room->second.members.empty()) {
    behind_.erase(room_id);
    rooms_.erase(room);
  }
}

bool RoomRegistry::leave(const SessionPtr& session, const std::string& room_id, const std::string& user) {
  std::lock_guard lock(mutex_);
  auto it = memberships_.find(session->id());
  if (it == memberships_.end() || it->second.erase({room_id, user}) == 0) return false;
  auto room = rooms_.find(room_id);
  if (room != rooms_.end()) remove_member_locked(room_id, room->second, session->id(), user);
  return true;
}

void RoomRegistry::deliver(const store::StoredMessage& message, const SessionPtr& sender, const Event& ack) {
  auto event = message_event(message);  // encoded before the lock

  std::lock_guard lock(mutex_);
  known_users_.insert(message.sender_id);
  // Nobody listening: a later join reads the store. A sequence the room
  // already counts: the room was created (from the store) after this commit,
  // or another node's wake-up read it from the store first.
  auto it = rooms_.find(message.room_id);
  Room* room = it == rooms_.end() || message.sequence <= it->second.last_sequence ? nullptr : &it->second;
  // Other nodes' messages numbered before this one, not delivered yet. When
  // the store cannot give them now, this one waits with them in the table:
  // a later catch-up delivers all in order.
  if (room != nullptr && message.sequence > room->last_sequence + 1 &&
      !fill_from_store_locked(message.room_id, *room, message.sequence)) {
    room = nullptr;
  }
  if (room != nullptr) room->last_sequence = message.sequence;
  // The ack after the room counts the message (a join that follows the ack
  // includes it) and before the echo (the sender knows its message first).
  if (sender != nullptr) sender->send(ack);
  if (room == nullptr) return;
  send_to_members_locked(*room, event);
}

void RoomRegistry::catch_up(const std::string& room_id) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  if (it != rooms_.end()) fill_from_store_locked(room_id, it->second, 0);
}

void RoomRegistry::catch_up_all() {
  std::lock_guard lock(mutex_);
  for (auto& [room_id, room] : rooms_) {
    fill_from_store_locked(room_id, room, 0);
    refresh_presence_locked(room_id, room);
  }
}

void RoomRegistry::catch_up_behind() {
  std::lock_guard lock(mutex_);
  auto behind = std::move(behind_);
  behind_.clear();
  for (const auto& room_id : behind) {
    if (auto it = rooms_.find(room_id); it != rooms_.end()) fill_from_store_locked(room_id, it->second, 0);
  }
}

void RoomRegistry::maybe_behind(const std::string& room_id) {
  std::lock_guard lock(mutex_);
  if (rooms_.contains(room_id)) behind_.insert(room_id);
}

bool RoomRegistry::fill_from_store_locked(const std::string& room_id, Room& room, std::uint64_t before) {
  store::HistoryQuery query;
  query.room_id = room_id;
  query.before = before;
  query.limit = 1000;
  for (;;) {
    query.after = room.last_sequence;
    store::HistoryPage page;
    try {
      page = store_.history(query);
    } catch (const store::StoreError&) {
      // The store is unreachable: catch_up_behind() tries again (the table
      // keeps what this room has not delivered).
      behind_.insert(room_id);
      return false;
    }
    for (const auto& message : page.messages) {
      // Retention may have removed some: a jump is all there is.
      room.last_sequence = message.sequence;
      known_users_.insert(message.sender_id);
      send_to_members_locked(room, message_event(message));
    }
    if (!page.has_more || page.messages.empty()) return true;
  }
}

Event RoomRegistry::message_event(const store::StoredMessage& message) {
  return encode_scratch([&message](ChatStream& frame) { to_proto(message, *frame.mutable_chat_message()); });
}

void RoomRegistry::send_to_members_locked(const Room& room, const Event& event) {
  for (const auto& [id, member] : room.members) member.session->send(event);
}

void RoomRegistry::typing(const std::string& room_id, const std::string& user, bool stopped) {
  {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) return;
    Room& room = it->second;
    const auto now = std::chrono::steady_clock::now();
    if (stopped) {
      room.typing_passed.erase(user);
    } else {
      auto [passed, first] = room.typing_passed.try_emplace(user, now);
      if (!first) {
        if (now - passed->second < std::chrono::seconds(1)) return;  // said a moment ago
        passed->second = now;
      }
    }
    send_typing_locked(room_id, room, user, stopped);
  }
  // Never waits for the database: queued for the other nodes.
  store_.announce_typing(room_id, user, stopped);
}

void RoomRegistry::typing_elsewhere(const std::string& room_id, const std::string& user, bool stopped) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end()) return;  // nobody here to tell
  send_typing_locked(room_id, it->second, user, stopped);
}

void RoomRegistry::send_typing_locked(const std::string& room_id, const Room& room, const std::string& user,
                                      bool stopped) {
  ChatStream frame;
  Typing* typing = frame.mutable_typing();
  typing->set_room_id(room_id);
  typing->set_user_id(user);
  typing->set_stopped(stopped);
  const auto event = encode(frame);
  for (const auto& [id, member] : room.members) {
    if (member.session->speaks_full_protocol()) member.session->send(event);
  }
}

void RoomRegistry::remember_user(const std::string& user) {
  std::lock_guard lock(mutex_);
  known_users_.insert(user);
}

std::optional<UserStatus> RoomRegistry::user_status(const std::string& user) const {
  std::lock_guard lock(mutex_);
  if (online_.contains(user)) return ACTIVE;
  if (known_users_.contains(user)) return INACTIVE;
  return std::nullopt;
}

void RoomRegistry::finish_all(const grpc::Status& status) {
  std::map<std::uint64_t, SessionPtr> sessions;
  {
    std::lock_guard lock(mutex_);
    sessions = sessions_;
  }
  for (const auto& [id, session] : sessions) session->finish(status);
}

}  // namespace chat::service
