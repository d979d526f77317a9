#include "local_room.hpp"

namespace chat::proxy {
namespace {

void send_to(Client& client, Frame frame, bool replayed) {
  if (replayed) {
    client.send_replayed(std::move(frame));
  } else {
    client.send(std::move(frame));
  }
}

}  // namespace

void LocalRoom::deliver(const ChatMessage& message, const Frame& frame, bool replayed) {
  const std::uint64_t sequence = message.sequence();
  if (last_sequence && sequence <= *last_sequence) return;  // delivered already
  last_sequence = sequence;
  std::optional<std::pair<std::uint64_t, std::string>> sender_sees;
  if (!echo_ids_.empty()) {
    if (auto it = echo_ids_.find(sequence); it != echo_ids_.end()) {
      sender_sees = std::move(it->second);
      echo_ids_.erase(it);
    }
  }
  for (auto& [client_id, member] : members) {
    if (!member.live) continue;
    if (sender_sees && sender_sees->first == client_id) {
      ChatStream own;
      *own.mutable_chat_message() = message;
      own.mutable_chat_message()->set_id(sender_sees->second);
      send_to(*member.client, make_frame(own), replayed);
    } else {
      send_to(*member.client, frame, replayed);
    }
  }
}

void LocalRoom::tell_live_members(const Frame& frame) const {
  for (const auto& [client_id, member] : members) {
    if (member.live && member.client->speaks_events()) member.client->send(frame);
  }
}

void LocalRoom::remember_echo_id(std::uint64_t sequence, std::uint64_t client_id, std::string id) {
  echo_ids_[sequence] = {client_id, std::move(id)};
}

}  // namespace chat::proxy
