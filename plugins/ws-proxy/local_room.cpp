#include "local_room.hpp"

#include <algorithm>

namespace chat::proxy {

void LocalRoom::deliver(const ChatMessage& message, const Frame& frame, Delivery how) {
  const std::uint64_t sequence = message.sequence();
  if (last_sequence && sequence <= *last_sequence) return;  // delivered already
  last_sequence = sequence;
  if (!echo_ids_.empty()) {
    if (auto it = echo_ids_.find(sequence); it != echo_ids_.end()) {
      const auto [client_id, id] = std::move(it->second);
      echo_ids_.erase(it);
      if (Membership* sender = find(client_id); sender != nullptr && sender->live()) {
        ChatStream own;
        *own.mutable_chat_message() = message;
        own.mutable_chat_message()->set_id(id);
        fanout_->send(sender->client, make_frame(own), how);
        return send_to_live(frame, how, client_id);
      }
    }
  }
  send_to_live(frame, how);
}

void LocalRoom::tell_live_members(const Frame& frame) { send_to_live(frame, Delivery::event); }

void LocalRoom::send_to_live(const Frame& frame, Delivery how, std::uint64_t except) {
  const auto& by_shard = live_by_shard();
  for (std::size_t shard = 0; shard < by_shard.size(); ++shard) {
    const auto& recipients = by_shard[shard];
    if (recipients->empty()) continue;
    if (except == 0) {
      fanout_->send(shard, recipients, frame, how);
      continue;
    }
    // A sender that gets its own frame (rare: its message id was rewritten).
    auto others = std::make_shared<Fanout::Recipients>();
    for (const auto& client : *recipients) {
      if (client->id() != except) others->push_back(client);
    }
    if (!others->empty()) fanout_->send(shard, std::move(others), frame, how);
  }
}

const std::vector<std::shared_ptr<const Fanout::Recipients>>& LocalRoom::live_by_shard() {
  if (!live_changed_) return live_by_shard_;
  std::vector<Fanout::Recipients> lists(fanout_->shards());
  for (const auto& [client_id, member] : members_) {
    if (member.live_) lists[member.client->shard() % lists.size()].push_back(member.client);
  }
  live_by_shard_.clear();
  for (auto& list : lists) live_by_shard_.push_back(std::make_shared<const Fanout::Recipients>(std::move(list)));
  live_changed_ = false;
  return live_by_shard_;
}

void LocalRoom::remember_echo_id(std::uint64_t sequence, std::uint64_t client_id, std::string id) {
  echo_ids_[sequence] = {client_id, std::move(id)};
}

std::pair<Membership*, bool> LocalRoom::add(const ClientPtr& client, const std::string& user) {
  auto [it, inserted] = members_.try_emplace(client->id());
  if (inserted) {
    it->second.client = client;
    it->second.user = user;
    ++users_[user];
  }
  return {&it->second, inserted};
}

bool LocalRoom::remove(std::uint64_t client_id, bool& user_gone) {
  user_gone = false;
  auto it = members_.find(client_id);
  if (it == members_.end()) return false;
  if (it->second.live_) live_changed_ = true;
  auto user = users_.find(it->second.user);
  if (user != users_.end() && --user->second == 0) {
    users_.erase(user);
    user_gone = true;
  }
  members_.erase(it);
  return true;
}

Membership* LocalRoom::find(std::uint64_t client_id) {
  auto it = members_.find(client_id);
  return it == members_.end() ? nullptr : &it->second;
}

void LocalRoom::set_live(Membership& member, bool live) {
  if (member.live_ == live) return;
  member.live_ = live;
  live_changed_ = true;
}

bool LocalRoom::has_live_member() const {
  return std::any_of(members_.begin(), members_.end(), [](const auto& entry) { return entry.second.live_; });
}

}  // namespace chat::proxy
