// MemoryStore: the HistoryStore of tests and demos; everything is lost at
// exit. Same semantics as SqliteStore, behind one shared_mutex.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/history_store.hpp"

namespace chat::store {
namespace {

// A message of `batch` (not itself a resend) that `resend` sends again.
std::optional<StoredMessage> find_in(const std::vector<StoredMessage>& batch, const NewMessage& resend) {
  if (resend.client_id.empty()) return std::nullopt;
  for (const StoredMessage& m : batch) {
    if (!m.duplicate && m.room_id == resend.room_id && m.sender_id == resend.sender_id &&
        m.client_id == resend.client_id) {
      return m;
    }
  }
  return std::nullopt;
}

bool before_sequence(const StoredMessage& message, std::uint64_t sequence) { return message.sequence < sequence; }

class MemoryStore final : public HistoryStore {
 public:
  std::vector<StoredMessage> append(std::span<const NewMessage> batch) override {
    std::vector<StoredMessage> stored;
    if (batch.empty()) return stored;
    stored.reserve(batch.size());

    std::unique_lock lock(mutex_);
    // Number first, then keep: all or nothing, as if in one transaction.
    std::unordered_map<std::string, std::uint64_t> batch_last;
    for (const NewMessage& message : batch) {
      if (message.resend) {
        // Stored before, or earlier in this batch: that message, again.
        auto original = find_locked(message.room_id, message.sender_id, message.client_id);
        if (!original) original = find_in(stored, message);
        if (original) {
          stored.push_back(std::move(*original));
          stored.back().duplicate = true;
          continue;
        }
      }
      auto [room, added] = batch_last.try_emplace(message.room_id, 0);
      if (added) {
        auto it = rooms_.find(message.room_id);
        room->second = it == rooms_.end() ? 0 : it->second.last_sequence;
      }
      stored.push_back(StoredMessage{message.room_id, ++room->second, message.sender_id, message.client_id,
                                     message.content, message.timestamp_ms});
    }

    std::vector<std::string> new_senders;
    try {
      for (const StoredMessage& message : stored) {
        if (message.duplicate) continue;
        rooms_[message.room_id].messages.push_back(message);
        if (senders_.insert(message.sender_id).second) new_senders.push_back(message.sender_id);
      }
    } catch (...) {  // out of memory: take back what went in
      for (const auto& [room_id, last] : batch_last) {
        auto it = rooms_.find(room_id);
        if (it == rooms_.end()) continue;
        auto& messages = it->second.messages;
        while (!messages.empty() && messages.back().sequence > it->second.last_sequence) messages.pop_back();
      }
      for (const auto& sender : new_senders) senders_.erase(sender);
      throw;
    }
    for (const auto& [room_id, last] : batch_last) rooms_[room_id].last_sequence = last;
    return stored;
  }

  HistoryPage history(const HistoryQuery& query) const override {
    HistoryPage page;
    std::shared_lock lock(mutex_);
    auto it = rooms_.find(query.room_id);
    if (it == rooms_.end()) return page;
    const auto& messages = it->second.messages;
    const auto matches = [&](const StoredMessage& m) {
      return query.sender_id.empty() || m.sender_id == query.sender_id;
    };
    // Messages are in sequence order: [from, to) is the range after `after`
    // and before `before`.
    auto from = messages.begin();
    if (query.after) {
      from = std::upper_bound(messages.begin(), messages.end(), *query.after,
                              [](std::uint64_t sequence, const StoredMessage& m) { return sequence < m.sequence; });
    }
    auto to = messages.end();
    if (query.before != 0) to = std::lower_bound(from, messages.end(), query.before, before_sequence);
    if (from >= to) return page;

    std::size_t bytes = 0;
    // Whether the page is full before `m`; takes it otherwise.
    const auto full_before = [&](const StoredMessage& m) {
      if (page.messages.size() == query.limit || (query.max_bytes > 0 && bytes >= query.max_bytes)) {
        page.has_more = true;
        return true;
      }
      page.messages.push_back(m);
      bytes += page_bytes(m.content);
      return false;
    };
    if (query.after) {  // forwards from `after`
      for (auto m = from; m != to; ++m) {
        if (matches(*m) && full_before(*m)) break;
      }
    } else {  // backwards from `before` or the newest
      for (auto m = std::make_reverse_iterator(to); m != std::make_reverse_iterator(from); ++m) {
        if (matches(*m) && full_before(*m)) break;
      }
      std::reverse(page.messages.begin(), page.messages.end());
    }
    return page;
  }

  RoomBounds bounds(const std::string& room_id) const override {
    std::shared_lock lock(mutex_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) return {};
    const Room& room = it->second;
    return {room.messages.empty() ? 0 : room.messages.front().sequence, room.last_sequence};
  }

  std::optional<StoredMessage> find_by_client_id(const std::string& room_id, const std::string& sender_id,
                                                 const std::string& client_id) const override {
    std::shared_lock lock(mutex_);
    return find_locked(room_id, sender_id, client_id);
  }

  std::optional<StoredMessage> find_locked(const std::string& room_id, const std::string& sender_id,
                                           const std::string& client_id) const {
    if (client_id.empty()) return std::nullopt;  // "no id" identifies nothing
    auto it = rooms_.find(room_id);
    if (it == rooms_.end()) return std::nullopt;
    const auto& messages = it->second.messages;
    auto found = std::find_if(messages.begin(), messages.end(), [&](const StoredMessage& m) {
      return m.client_id == client_id && m.sender_id == sender_id;
    });
    if (found == messages.end()) return std::nullopt;
    return *found;
  }

  std::vector<std::string> senders() const override {
    std::shared_lock lock(mutex_);
    return {senders_.begin(), senders_.end()};
  }

  std::vector<std::string> room_senders(const std::string& room_id, std::size_t limit) const override {
    std::shared_lock lock(mutex_);
    std::set<std::string> found;
    if (auto room = rooms_.find(room_id); room != rooms_.end()) {
      for (const auto& message : room->second.messages) found.insert(message.sender_id);
    }
    std::vector<std::string> senders(found.begin(), found.end());
    if (senders.size() > limit) senders.resize(limit);
    return senders;
  }

  std::uint64_t apply_retention(const Retention& policy, std::int64_t now_ms) override {
    const bool by_count = policy.max_messages_per_room > 0;
    const bool by_age = policy.max_age.count() > 0;
    if (!by_count && !by_age) return 0;
    const std::int64_t cutoff = by_age ? age_cutoff_ms(now_ms, policy.max_age) : 0;

    std::unique_lock lock(mutex_);
    std::uint64_t deleted = 0;
    for (auto& [room_id, room] : rooms_) {
      auto& messages = room.messages;
      if (by_count && messages.size() > policy.max_messages_per_room) {
        const auto excess = messages.size() - static_cast<std::size_t>(policy.max_messages_per_room);
        messages.erase(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(excess));
        deleted += excess;
      }
      if (by_age) {
        deleted += std::erase_if(messages, [cutoff](const StoredMessage& m) { return m.timestamp_ms < cutoff; });
      }
    }
    return deleted;
  }

 private:
  struct Room {
    std::deque<StoredMessage> messages;  // by sequence
    std::uint64_t last_sequence = 0;     // outlives the messages
  };

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;
  std::set<std::string> senders_;  // ever stored: outlives the messages
};

}  // namespace

std::unique_ptr<HistoryStore> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace chat::store
