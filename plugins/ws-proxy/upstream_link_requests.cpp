// UpstreamLink, what sessions ask of it: join and leave rooms (the proxy's
// one record of who is in which room), send a message, say someone types.
// Each runs on the session's thread, under the link's lock.
#include "upstream_link.hpp"

#include <algorithm>

namespace chat::proxy {
namespace {

ChatStream leave_frame(const std::string& room, const std::string& user) {
  ChatStream frame;
  frame.mutable_leave()->set_room_id(room);
  frame.mutable_leave()->set_user_id(user);
  return frame;
}

// Keeps at most `limit` bytes of `text` without splitting a UTF-8 sequence.
std::string utf8_prefix(const std::string& text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
  return text.substr(0, end);
}

}  // namespace

bool UpstreamLink::join(const ClientPtr& client, const std::string& room_id, const std::string& user,
                        std::optional<std::uint64_t> since, bool answer) {
  std::lock_guard lock(mutex_);
  if (state_ == State::Stopped) return false;
  LocalRoom& room = room_locked(room_id);
  auto [added, is_new] = room.add(client, user);
  Membership& member = *added;
  if (is_new) remember_member_locked(client->id(), room_id);
  member.answer = member.answer || answer;
  // A member that asks again with `since` wants exactly what follows it:
  // it waits for its own replay instead of taking live messages meanwhile.
  if (since) room.set_live(member, false);
  member.since = since;
  if (state_ == State::Available) {
    send_join_locked(JoinRequest{room_id, user, client->id(), answer}, since);
    member.join_sent = true;
  } else {
    member.join_sent = false;  // sent by rejoin_locked() once the service is back
  }
  return is_new;
}

bool UpstreamLink::leave(const Client& client, const std::string& room_id, const std::string& user) {
  std::lock_guard lock(mutex_);
  auto room_it = rooms_.find(room_id);
  if (room_it == rooms_.end()) return false;
  LocalRoom& room = room_it->second;
  bool user_gone = false;
  if (!room.remove(client.id(), user_gone)) return false;
  forget_member_locked(client.id(), room_id);
  if (user_gone && state_ == State::Available) write_locked(leave_frame(room_id, user));
  if (room.empty()) rooms_.erase(room_it);
  return true;
}

void UpstreamLink::leave_all(const Client& client) {
  std::lock_guard lock(mutex_);
  auto it = rooms_by_client_.find(client.id());
  if (it == rooms_by_client_.end()) return;
  const std::vector<std::string> rooms = std::move(it->second);
  rooms_by_client_.erase(it);
  for (const auto& room_id : rooms) {
    auto room_it = rooms_.find(room_id);
    if (room_it == rooms_.end()) continue;
    const Membership* member = room_it->second.find(client.id());
    if (member == nullptr) continue;
    const std::string user = member->user;  // as it joined
    bool user_gone = false;
    room_it->second.remove(client.id(), user_gone);
    if (user_gone && state_ == State::Available) write_locked(leave_frame(room_id, user));
    if (room_it->second.empty()) rooms_.erase(room_it);
  }
}

bool UpstreamLink::is_member(const Client& client, const std::string& room_id) const {
  std::lock_guard lock(mutex_);
  return is_member_locked(client.id(), room_id);
}

bool UpstreamLink::is_member_locked(std::uint64_t client_id, const std::string& room_id) const {
  auto it = rooms_by_client_.find(client_id);
  return it != rooms_by_client_.end() && std::ranges::find(it->second, room_id) != it->second.end();
}

std::vector<std::string> UpstreamLink::rooms_of(const Client& client) const {
  std::lock_guard lock(mutex_);
  auto it = rooms_by_client_.find(client.id());
  return it == rooms_by_client_.end() ? std::vector<std::string>{} : it->second;
}

void UpstreamLink::remember_member_locked(std::uint64_t client_id, const std::string& room) {
  rooms_by_client_[client_id].push_back(room);
}

void UpstreamLink::forget_member_locked(std::uint64_t client_id, const std::string& room) {
  auto it = rooms_by_client_.find(client_id);
  if (it == rooms_by_client_.end()) return;
  std::erase(it->second, room);
  if (it->second.empty()) rooms_by_client_.erase(it);
}

void UpstreamLink::typing(const std::string& room, const std::string& user, bool stopped) {
  std::lock_guard lock(mutex_);
  if (state_ != State::Available || call_ == nullptr) return;
  if (call_->queued() >= options_.upstream_queue_limit) return;
  ChatStream frame;
  Typing* typing = frame.mutable_typing();
  typing->set_room_id(room);
  typing->set_user_id(user);
  typing->set_stopped(stopped);
  write_locked(std::move(frame));
}

SendResult UpstreamLink::send_message(const ClientPtr& client, ChatMessage message, bool may_join) {
  std::lock_guard lock(mutex_);
  if (state_ != State::Available || call_ == nullptr) return SendResult::Unavailable;
  if (call_->queued() >= options_.upstream_queue_limit) return SendResult::Busy;
  const bool joined = !is_member_locked(client->id(), message.room_id());
  if (joined) {
    // Not in the room yet: joins it by sending, as messages-only clients do.
    if (!may_join) return SendResult::RoomLimit;
    Membership* member = room_locked(message.room_id()).add(client, message.sender_id()).first;
    remember_member_locked(client->id(), message.room_id());
    send_join_locked(JoinRequest{message.room_id(), message.sender_id(), client->id(), false}, std::nullopt);
    member->join_sent = true;
  }
  const std::string client_id = message.id();
  std::string upstream_id = client_id;
  bool rewritten = false;
  if (!client_id.empty() && !message.resend() &&
      pending_.contains({message.room_id(), message.sender_id(), client_id})) {
    // Another message with this id awaits its ack (two tabs of one user
    // sending "msg1", say): give this one an id of its own upstream.
    upstream_id = unique_upstream_id_locked(message.room_id(), message.sender_id(), client_id);
    rewritten = true;
  }
  pending_[{message.room_id(), message.sender_id(), upstream_id}].push_back(PendingSend{client, client_id, rewritten});
  message.set_id(upstream_id);
  ChatStream frame;
  *frame.mutable_chat_message() = std::move(message);
  write_locked(std::move(frame));
  return joined ? SendResult::Joined : SendResult::Sent;
}

std::string UpstreamLink::unique_upstream_id_locked(const std::string& room, const std::string& sender,
                                                    const std::string& id) {
  for (;;) {
    const std::string suffix = "~" + std::to_string(++rewrites_);
    std::string candidate = utf8_prefix(id, kMaxIdBytes - suffix.size()) + suffix;
    if (!pending_.contains({room, sender, candidate})) return candidate;
  }
}

}  // namespace chat::proxy
