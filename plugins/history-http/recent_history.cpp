#include "recent_history.hpp"

#include "api_responses.hpp"
#include "web_root.hpp"

#include <algorithm>

namespace chat::history_http {
namespace {

// What a room costs beyond its messages: the entry, its key, its place in
// the recency list.
constexpr std::size_t kRoomBytes = 256;

// What a page costs in the chat service's reckoning (content plus 256 a
// message, as GetChatHistoryRequest.max_bytes says): the copy cuts a page
// where the service would.
std::size_t service_page_bytes(const chat::ChatMessage& message) { return message.content().size() + 256; }

}  // namespace

RecentHistory::RecentHistory(Limits limits, Service service, Counters counters)
    : limits_(limits), service_(std::move(service)), counters_(counters) {}

void RecentHistory::count_locked(std::uint64_t from_copy, std::uint64_t from_service) {
  stats_.answered += from_copy;
  stats_.passed += from_service;
  if (counters_.from_copy != nullptr && from_copy > 0) counters_.from_copy->inc(from_copy);
  if (counters_.from_service != nullptr && from_service > 0) {
    counters_.from_service->inc(from_service);
  }
}

void RecentHistory::count_reload_locked() {
  ++stats_.reloads;
  if (counters_.reloads != nullptr) counters_.reloads->inc();
}

bool RecentHistory::covers(const chat::GetChatHistoryRequest& request) const {
  return request.sender_id().empty() && request.before() == 0 && !request.has_after() &&
         request.limit() <= limits_.room_messages;
}

std::size_t RecentHistory::message_bytes(const chat::ChatMessage& message) {
  return sizeof(chat::ChatMessage) + message.content().size() + message.id().size() + message.room_id().size() +
         message.sender_id().size() + message.server_id().size() + 64;
}

void RecentHistory::newest_page(const std::string& room_id, std::uint32_t limit, PageDone done) {
  {
    std::lock_guard lock(mutex_);
    if (stream_up_ && !refused_) {
      Room& room = room_locked(room_id);
      if (room.asked != 0) {
        // The Watch out may have reached the service before this request
        // came: only the next one vouches for it.
        room.next.push_back(Waiter{limit, std::move(done)});
      } else {
        room.current.push_back(Waiter{limit, std::move(done)});
        ask_locked(room_id, room);
      }
      return;
    }
    count_locked(0, 1);
  }
  done(nullptr);
}

RecentHistory::Room& RecentHistory::room_locked(const std::string& room_id) {
  auto [it, added] = rooms_.try_emplace(room_id);
  Room& room = it->second;
  if (added) {
    recency_.push_front(room_id);
    room.recency = recency_.begin();
    room.bytes = kRoomBytes;
    stats_.bytes += room.bytes;
    evict_locked(room_id);
  } else if (room.recency != recency_.begin()) {
    recency_.splice(recency_.begin(), recency_, room.recency);
  }
  return room;
}

void RecentHistory::ask_locked(const std::string& room_id, Room& room) {
  room.asked = ++last_token_;
  room.asked_at = std::chrono::steady_clock::now();
  chat::ChatStream frame;
  frame.mutable_watch()->set_room_id(room_id);
  frame.mutable_watch()->set_token(room.asked);
  // A stream that has just ended answers nothing: stream_down() answers the
  // waiters.
  service_.send(frame);
}

void RecentHistory::on_watching(const chat::Watching& watching) {
  Answers answers;
  bool load = false;
  std::uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(watching.room_id());
    if (it == rooms_.end() || it->second.asked != watching.token()) return;
    Room& room = it->second;
    auto waiters = end_round_locked(watching.room_id(), room);

    watches_answered_ = true;
    // Retention removed the room's oldest messages (all of them: 0): so
    // does the copy, which then starts at the oldest kept.
    if (room.state == State::ready) {
      const std::uint64_t first = watching.first_sequence();
      bool dropped = false;
      while (!room.messages.empty() && (first == 0 || room.messages.front().sequence() < first)) {
        room.messages.pop_front();
        dropped = true;
      }
      if (dropped) {
        room.from_start = true;
        recount_locked(room);
      }
    }
    if (room.state == State::ready && room.last != watching.last_sequence()) {
      // Something the stream should have brought did not come: read the room again.
      count_reload_locked();
      go_cold_locked(room);
    }
    if (room.state == State::ready) {
      for (auto& waiter : waiters) {
        auto page = page_locked(watching.room_id(), room, waiter.limit);
        count_locked(page ? 1 : 0, page ? 0 : 1);
        answers.emplace_back(std::move(waiter.done), std::move(page));
      }
    } else {
      if (room.state == State::cold) {
        // Read after this Watching: the read holds everything up to its
        // last_sequence, the stream brings everything after.
        room.state = State::loading;
        room.watched_up_to = watching.last_sequence();
        generation = ++room.generation;
        load = true;
      }
      count_locked(0, waiters.size());
      for (auto& waiter : waiters) answers.emplace_back(std::move(waiter.done), nullptr);
    }
  }
  if (load) {
    service_.load(watching.room_id(), static_cast<std::uint32_t>(limits_.room_messages),
                  [this, room = watching.room_id(), generation](const chat::GetChatHistoryResponse* page) {
                    on_loaded(room, generation, page);
                  });
  }
  for (auto& [done, page] : answers) done(std::move(page));
}

std::vector<RecentHistory::Waiter> RecentHistory::end_round_locked(const std::string& room_id, Room& room) {
  auto waiters = std::move(room.current);
  room.current.clear();
  room.asked = 0;
  if (!room.next.empty()) {
    room.current = std::move(room.next);
    room.next.clear();
    ask_locked(room_id, room);
  }
  return waiters;
}

void RecentHistory::expire(std::chrono::steady_clock::time_point cutoff) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    for (auto& [room_id, room] : rooms_) {
      if (room.asked == 0 || room.asked_at >= cutoff) continue;
      // Its Watching, should it come, matches no Watch any more.
      for (auto& waiter : end_round_locked(room_id, room)) waiters.push_back(std::move(waiter));
    }
    count_locked(0, waiters.size());
  }
  for (auto& waiter : waiters) waiter.done(nullptr);
}

void RecentHistory::on_loaded(const std::string& room_id, std::uint64_t generation,
                              const chat::GetChatHistoryResponse* page) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room_id);
  if (it == rooms_.end() || it->second.generation != generation || it->second.state != State::loading) return;
  Room& room = it->second;
  if (page == nullptr) {
    go_cold_locked(room);  // the next request tries again
    return;
  }
  room.messages.assign(page->messages().begin(), page->messages().end());
  room.from_start = !page->has_more();
  room.last = std::max(room.messages.empty() ? 0 : room.messages.back().sequence(), room.watched_up_to);
  room.state = State::ready;
  auto early = std::move(room.early);
  room.early.clear();
  recount_locked(room);
  for (const auto& message : early) {
    if (!append_locked(room, message)) return;
  }
  evict_locked(room_id);
}

void RecentHistory::on_message(const chat::ChatMessage& message) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(message.room_id());
  if (it == rooms_.end()) return;
  Room& room = it->second;
  if (room.state == State::loading) {
    room.early.push_back(message);
    account_locked(room, static_cast<std::ptrdiff_t>(message_bytes(message)));
  } else if (room.state == State::ready && append_locked(room, message)) {
    evict_locked(message.room_id());
  }
}

bool RecentHistory::append_locked(Room& room, const chat::ChatMessage& message) {
  if (message.sequence() <= room.last) return true;  // the load already had it
  if (message.sequence() != room.last + 1) {
    count_reload_locked();
    go_cold_locked(room);
    return false;
  }
  // Counted as it goes: this runs for every message of a watched room.
  room.messages.push_back(message);
  room.last = message.sequence();
  std::ptrdiff_t delta = static_cast<std::ptrdiff_t>(message_bytes(message));
  while (room.messages.size() > limits_.room_messages) {
    delta -= static_cast<std::ptrdiff_t>(message_bytes(room.messages.front()));
    room.messages.pop_front();
    room.from_start = false;
  }
  account_locked(room, delta);
  drop_pages_locked(room);
  return true;
}

void RecentHistory::go_cold_locked(Room& room) {
  room.state = State::cold;
  room.messages.clear();
  room.early.clear();
  room.from_start = false;
  room.last = 0;
  ++room.generation;
  recount_locked(room);
}

void RecentHistory::account_locked(Room& room, std::ptrdiff_t delta) {
  room.bytes = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(room.bytes) + delta);
  stats_.bytes = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(stats_.bytes) + delta);
}

void RecentHistory::drop_pages_locked(Room& room) {
  std::ptrdiff_t delta = 0;
  for (const auto& [limit, page] : room.built) delta -= static_cast<std::ptrdiff_t>(page->body.size());
  room.built.clear();
  account_locked(room, delta);
}

void RecentHistory::recount_locked(Room& room) {
  room.built.clear();
  std::size_t bytes = kRoomBytes;
  for (const auto& message : room.messages) bytes += message_bytes(message);
  for (const auto& message : room.early) bytes += message_bytes(message);
  account_locked(room, static_cast<std::ptrdiff_t>(bytes) - static_cast<std::ptrdiff_t>(room.bytes));
}

std::shared_ptr<const RecentHistory::Page> RecentHistory::page_locked(const std::string& room_id, Room& room,
                                                                       std::uint32_t limit) {
  for (const auto& [built_limit, page] : room.built) {
    if (built_limit == limit) return page;
  }
  // The newest messages, as the chat service would cut the page: at most
  // `limit`, and no more once page_bytes are reached.
  std::size_t taken = 0;
  std::size_t bytes = 0;
  bool cut = false;
  for (auto it = room.messages.rbegin(); it != room.messages.rend(); ++it) {
    if (taken == limit || bytes >= limits_.page_bytes) {
      cut = true;
      break;
    }
    ++taken;
    bytes += service_page_bytes(*it);
  }
  // The page goes on past the copy's oldest message: the copy cannot answer.
  if (!cut && taken < limit && bytes < limits_.page_bytes && !room.from_start) return nullptr;

  chat::GetChatHistoryResponse answer;
  answer.mutable_messages()->Reserve(static_cast<int>(taken));
  for (auto it = room.messages.end() - static_cast<std::ptrdiff_t>(taken); it != room.messages.end(); ++it) {
    *answer.add_messages() = *it;
  }
  answer.set_has_more(cut || !room.from_start);
  auto page = std::make_shared<Page>();
  page->body = history_body(room_id, answer, /*forwards=*/false, limits_.page_bytes);
  page->etag = content_etag(page->body);
  room.built.emplace_back(limit, page);
  account_locked(room, static_cast<std::ptrdiff_t>(page->body.size()));
  return page;
}

void RecentHistory::evict_locked(const std::string& keep) {
  while (stats_.bytes > limits_.max_bytes) {
    // The least recently read room that nobody waits for.
    auto victim = recency_.end();
    for (auto it = recency_.rbegin(); it != recency_.rend(); ++it) {
      if (*it == keep) continue;
      const Room& room = rooms_.at(*it);
      if (room.asked == 0 && room.state != State::loading) {
        victim = std::next(it).base();
        break;
      }
    }
    if (victim == recency_.end()) return;
    const std::string room_id = *victim;
    stats_.bytes -= rooms_.at(room_id).bytes;
    rooms_.erase(room_id);
    recency_.erase(victim);
    chat::ChatStream frame;
    frame.mutable_unwatch()->set_room_id(room_id);
    service_.send(frame);
  }
}

void RecentHistory::stream_up() {
  std::lock_guard lock(mutex_);
  stream_up_ = true;
  refused_ = false;
  watches_answered_ = false;
}

void RecentHistory::stream_down() {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    stream_up_ = false;
    for (auto& [room_id, room] : rooms_) {
      for (auto& waiter : room.current) waiters.push_back(std::move(waiter));
      for (auto& waiter : room.next) waiters.push_back(std::move(waiter));
    }
    rooms_.clear();
    recency_.clear();
    stats_.bytes = 0;
    count_locked(0, waiters.size());
  }
  for (auto& waiter : waiters) waiter.done(nullptr);
}

void RecentHistory::on_refused(const std::string& room_id, chat::Error::Code code) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    auto it = rooms_.find(room_id);
    if (it == rooms_.end() || it->second.asked == 0) return;
    Room& room = it->second;
    // A service that does not know Watch, or a stream that may not watch
    // (it never had one answered; a refusal later is a limit reached): it
    // never will, so every request reads from the service until the stream
    // is made again.
    if (code == chat::Error::UNKNOWN_PAYLOAD || (code == chat::Error::NOT_ALLOWED && !watches_answered_)) {
      refused_ = true;
      waiters = std::move(room.current);
      for (auto& waiter : room.next) waiters.push_back(std::move(waiter));
      room.current.clear();
      room.next.clear();
      room.asked = 0;
    } else {
      waiters = end_round_locked(room_id, room);
    }
    count_locked(0, waiters.size());
  }
  for (auto& waiter : waiters) waiter.done(nullptr);
}

RecentHistory::Stats RecentHistory::stats() const {
  std::lock_guard lock(mutex_);
  Stats stats = stats_;
  stats.rooms = rooms_.size();
  return stats;
}

}  // namespace chat::history_http
