// UpstreamLink, what the chat service says on the stream: messages fanned
// out to the room's members, answers to joins (Joined, the replay, the
// presence snapshot) routed to who asked, acks and errors to the sender.
#include "upstream_link.hpp"

namespace chat::proxy {

void UpstreamLink::on_events(ChatCall& call, std::span<const ChatStream* const> events) {
  {
    std::lock_guard lock(mutex_);
    if (call_ != &call) return;
  }
  // What these events send to clients reaches each shard in one post, so
  // each client's frames of a batch leave in one write.
  const Fanout::Burst burst(fanout_);
  for (const ChatStream* event : events) {
    switch (event->payload_case()) {
      case ChatStream::kChatMessage: on_message(*event); break;
      case ChatStream::kJoined: on_joined(event->joined()); break;
      case ChatStream::kPresence: on_presence(*event); break;
      case ChatStream::kTyping: on_typing(*event); break;
      case ChatStream::kAck: on_ack(event->ack()); break;
      case ChatStream::kError: on_error(*event); break;
      default: log_->debug("stream {}: ignoring a {} event", index_, payload_name(*event)); break;
    }
  }
}

LocalRoom& UpstreamLink::room_locked(const std::string& room) {
  return rooms_.try_emplace(room, fanout_).first->second;
}

LocalRoom* UpstreamLink::find_room_locked(const std::string& room) {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? nullptr : &it->second;
}

void UpstreamLink::on_message(const ChatStream& event) {
  const ChatMessage& message = event.chat_message();
  const Frame frame = make_frame(event);  // once, for every recipient
  std::lock_guard lock(mutex_);
  LocalRoom* room = find_room_locked(message.room_id());
  if (answer_ && answer_->replay_left > 0 && answer_->request.room == message.room_id()) {
    --answer_->replay_left;
    if (room != nullptr) {
      if (answer_->request.client_id == 0) {
        room->deliver(message, frame, Delivery::replayed);  // a re-join's replay is for every live member
      } else if (Membership* member = room->find(answer_->request.client_id)) {
        fanout_.send(member->client, frame, Delivery::replayed);
      }
    }
    if (answer_->replay_left == 0) finish_replay_locked();
    return;
  }
  if (room != nullptr) room->deliver(message, frame);
}

void UpstreamLink::on_joined(const Joined& joined) {
  std::lock_guard lock(mutex_);
  if (join_requests_.empty()) {
    log_->warn("stream {}: unexpected joined event for room '{}'", index_, joined.room_id());
    return;
  }
  JoinRequest request = std::move(join_requests_.front());
  join_requests_.pop_front();
  if (request.room != joined.room_id() || request.user != joined.user_id()) {
    log_->warn("stream {}: joined '{}' as '{}' answers a join of '{}' as '{}'", index_, joined.room_id(),
               joined.user_id(), request.room, request.user);
    request.room = joined.room_id();
  }
  answer_ = Answer{request, joined.last_sequence(), joined.replayed(), joined.history_gap()};
  if (LocalRoom* room = find_room_locked(request.room)) {
    ChatStream event;
    *event.mutable_joined() = joined;
    if (request.client_id != 0) {
      Membership* member = room->find(request.client_id);
      if (request.answer && member != nullptr) fanout_.send(member->client, make_frame(event), Delivery::event);
    } else if (joined.history_gap()) {
      // The gap since the last delivered message cannot be replayed: the
      // clients reload the room's history.
      log_->warn("room '{}': messages since {} cannot be recovered (history gap)", request.room,
                 room->last_sequence.value_or(0));
      room->tell_live_members(make_frame(event));
    } else if (joined.replayed() > 0) {
      log_->debug("room '{}': recovering {} messages", request.room, joined.replayed());
    }
  }
  if (answer_->replay_left == 0) finish_replay_locked();
}

void UpstreamLink::finish_replay_locked() {
  const Answer& answer = *answer_;
  LocalRoom* room = find_room_locked(answer.request.room);
  if (room == nullptr) return;
  if (answer.request.client_id == 0 && answer.history_gap) {
    room->last_sequence = answer.last_sequence;  // the store was reset or trimmed: start over from here
  } else {
    room->last_sequence = std::max(room->last_sequence.value_or(0), answer.last_sequence);
  }
  if (answer.request.client_id != 0) {
    if (Membership* member = room->find(answer.request.client_id)) room->set_live(*member, true);
  }
}

void UpstreamLink::on_typing(const ChatStream& event) {
  std::lock_guard lock(mutex_);
  if (LocalRoom* room = find_room_locked(event.typing().room_id())) room->tell_live_members(make_frame(event));
}

void UpstreamLink::on_presence(const ChatStream& event) {
  const Presence& presence = event.presence();
  std::lock_guard lock(mutex_);
  LocalRoom* room = find_room_locked(presence.room_id());
  if (presence.kind() == Presence::SNAPSHOT) {
    if (!answer_ || answer_->request.room != presence.room_id()) {
      log_->debug("stream {}: snapshot of room '{}' answers no join", index_, presence.room_id());
      return;
    }
    const JoinRequest request = answer_->request;
    answer_.reset();
    if (room == nullptr) return;
    if (request.client_id != 0) {
      Membership* member = room->find(request.client_id);
      if (request.answer && member != nullptr) fanout_.send(member->client, make_frame(event), Delivery::event);
      return;
    }
    // A re-join: everyone's view of who is online may be stale.
    room->tell_live_members(make_frame(event));
    return;
  }
  if (room != nullptr) room->tell_live_members(make_frame(event));
}

std::optional<UpstreamLink::PendingSend> UpstreamLink::take_pending_locked(const std::string& room,
                                                                           const std::string& sender,
                                                                           const std::string& id,
                                                                           bool id_may_be_server_id,
                                                                           const std::string& server_id) {
  auto it = pending_.find({room, sender, id});
  // A message sent without an id is acked with its server_id as id.
  if (it == pending_.end() && id_may_be_server_id && id == server_id) it = pending_.find({room, sender, ""});
  if (it == pending_.end() && id.empty()) it = pending_.find({room, sender, ""});
  if (it == pending_.end()) return std::nullopt;
  PendingSend pending = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) pending_.erase(it);
  return pending;
}

void UpstreamLink::on_ack(Ack ack) {
  std::lock_guard lock(mutex_);
  auto pending = take_pending_locked(ack.room_id(), ack.sender_id(), ack.id(), true, ack.server_id());
  if (!pending) {
    log_->debug("stream {}: ack for '{}' in '{}' matches no message sent", index_, ack.id(), ack.room_id());
    return;
  }
  auto client = pending->client.lock();
  if (pending->rewritten) {
    if (LocalRoom* room = find_room_locked(ack.room_id()); room != nullptr && client && !ack.duplicate()) {
      room->remember_echo_id(ack.sequence(), client->id(), pending->client_message_id);
    }
    ack.set_id(pending->client_message_id);
  }
  if (!client || !client->speaks_full_protocol()) return;  // a messages-only client has no use for acks
  ChatStream event;
  *event.mutable_ack() = std::move(ack);
  fanout_.send(client, make_frame(event));
}

void UpstreamLink::on_error(const ChatStream& event) {
  const Error& error = event.error();
  std::lock_guard lock(mutex_);
  if (error.frame() == "chat_message") {
    auto pending = take_pending_locked(error.room_id(), error.user_id(), error.id(), false, "");
    auto client = pending ? pending->client.lock() : nullptr;
    if (!client) {
      log_->debug("stream {}: error for a message no connection awaits: {}", index_, error.message());
      return;
    }
    ChatStream copy = event;
    copy.mutable_error()->set_id(pending->client_message_id);
    fanout_.send(client, make_frame(copy));
    return;
  }
  if (error.frame() == "join") {
    if (join_requests_.empty()) return;
    const JoinRequest request = join_requests_.front();
    join_requests_.pop_front();
    log_->warn("stream {}: join of room '{}' refused: {}", index_, request.room, error.message());
    LocalRoom* room = find_room_locked(request.room);
    if (room == nullptr || request.client_id == 0) return;
    Membership* member = room->find(request.client_id);
    if (member == nullptr) return;
    // The service may hold the membership anyway; keep delivering.
    room->set_live(*member, true);
    fanout_.send(member->client, make_frame(event));
    return;
  }
  log_->debug("stream {}: error event for a {} frame: {}", index_, error.frame(), error.message());
}

}  // namespace chat::proxy
