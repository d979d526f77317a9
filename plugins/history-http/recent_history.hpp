// A copy of the newest messages of the rooms people read, kept current from
// the chat service's own stream, so the newest page of a room is answered
// without a call to the chat service and is never stale: a message
// acknowledged before a request arrives is in that request's answer.
//
// How it stays current: every message stored into a watched room comes on
// the stream (chat.Watch). Before a page is answered from the copy, the
// service is asked on that stream whether everything stored up to now has
// come: a Watch, answered by Watching only after every message of the room
// stored before it was sent ahead of it. The copy answers when it holds
// exactly the room's newest sequence that Watching names. Requests that
// arrive while an ask is out wait for the next one, so one round trip
// answers every request for the room that came during the one before.
//
// Whatever the copy cannot answer for sure (no stream, a room still
// loading, a gap, a page older than the copy) gets nullptr: read it from
// the chat service, as every request did before.
//
// Bounded: at most `room_messages` messages a room, and about `max_bytes`
// for every room together; the rooms read least recently go first (and
// their watch with them).
#pragma once

#include "chat.pb.h"

#include <chathost/plugin.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace chat::history_http {

class RecentHistory {
 public:
  struct Limits {
    std::size_t room_messages = 200;  // newest messages kept a room; also the largest page answered
    std::size_t max_bytes = 64 << 20;  // every room together, about
    std::size_t page_bytes = 1 << 20;  // an answer's size, as history-http's max_history_page_bytes
  };

  // An answer, as GET /history sends it.
  struct Page {
    std::string body;
    std::string etag;
  };
  // nullptr: not from the copy; read it from the chat service.
  using PageDone = std::function<void(std::shared_ptr<const Page>)>;

  // The page, or nullptr when the read failed. Valid during the call only.
  using LoadDone = std::function<void(const chat::GetChatHistoryResponse*)>;
  // What the copy asks of the chat service.
  struct Service {
    // A frame on the watch stream (Watch, Unwatch); false once it has ended.
    std::function<bool(const chat::ChatStream&)> send;
    // GetChatHistory of the room's newest `limit` messages, at most `page_bytes`.
    std::function<void(const std::string& room, std::uint32_t limit, LoadDone done)> load;
  };

  // Published through the host's metrics (any may be nullptr):
  //   chat_history_recent_pages_total{from="copy"|"chat_service"}
  //   chat_history_recent_reloads_total
  struct Counters {
    chathost::Counter* from_copy = nullptr;
    chathost::Counter* from_service = nullptr;
    chathost::Counter* reloads = nullptr;
  };

  struct Stats {
    std::uint64_t answered = 0;  // pages answered from the copy
    std::uint64_t passed = 0;    // requests sent on to the chat service
    std::uint64_t reloads = 0;   // rooms read again after a gap
    std::size_t rooms = 0;
    std::size_t bytes = 0;
  };

  RecentHistory(Limits limits, Service service, Counters counters);
  RecentHistory(Limits limits, Service service) : RecentHistory(limits, std::move(service), Counters{}) {}
  RecentHistory(const RecentHistory&) = delete;
  RecentHistory& operator=(const RecentHistory&) = delete;

  // Whether the copy may answer `request` at all: a room's newest page, of
  // every sender, of at most room_messages messages.
  bool covers(const chat::GetChatHistoryRequest& request) const;

  // The newest `limit` messages of `room`: `done` runs once, on this thread
  // or on the stream's, with the page or nullptr.
  void newest_page(const std::string& room, std::uint32_t limit, PageDone done);

  // --- from the watch stream, in the order it says them
  void stream_up();
  // The stream ended: nothing of the copy can be vouched for any more.
  void stream_down();
  void on_message(const chat::ChatMessage& message);
  void on_watching(const chat::Watching& watching);
  // Watches unanswered since before `cutoff` (a chat service that hangs):
  // their requests are read from the chat service, whose calls have a
  // deadline. Called about every 100 ms by the stream's owner.
  void expire(std::chrono::steady_clock::time_point cutoff);
  // A Watch was refused; `code` says why. One the service does not take at
  // all (an older service, or this caller is no bridge) turns the copy off.
  void on_refused(const std::string& room, chat::Error::Code code);

  Stats stats() const;

 private:
  struct Waiter {
    std::uint32_t limit;
    PageDone done;
  };
  enum class State { cold, loading, ready };
  struct Room {
    State state = State::cold;
    std::deque<chat::ChatMessage> messages;  // sequences without a gap, oldest first
    bool from_start = false;       // `messages` begin with the room's oldest kept message
    std::uint64_t last = 0;        // the newest sequence the copy accounts for
    std::uint64_t watched_up_to = 0;  // the Watching the load follows: its last_sequence
    std::vector<chat::ChatMessage> early;  // came while loading
    std::uint64_t generation = 0;  // which load an answer belongs to
    std::uint64_t asked = 0;       // the token of the Watch out; 0: none
    std::chrono::steady_clock::time_point asked_at;
    std::vector<Waiter> current;   // answered by that Watch's Watching
    std::vector<Waiter> next;      // came while it was out: the next one's
    std::vector<std::pair<std::uint32_t, std::shared_ptr<const Page>>> built;  // by limit, until a change
    std::size_t bytes = 0;
    std::list<std::string>::iterator recency;  // in recency_
  };
  using Answers = std::vector<std::pair<PageDone, std::shared_ptr<const Page>>>;

  Room& room_locked(const std::string& room_id);
  void ask_locked(const std::string& room_id, Room& room);
  // The Watch out is answered (or given up): its waiters go, and the next
  // ones' Watch leaves.
  std::vector<Waiter> end_round_locked(const std::string& room_id, Room& room);
  // The answer for `limit` from the copy, or nullptr.
  std::shared_ptr<const Page> page_locked(const std::string& room_id, Room& room, std::uint32_t limit);
  // Appends the next message; false on a gap (the room goes cold).
  bool append_locked(Room& room, const chat::ChatMessage& message);
  void go_cold_locked(Room& room);
  // What the room takes, changed by `delta` bytes (and the total with it).
  void account_locked(Room& room, std::ptrdiff_t delta);
  // The messages changed: the pages built from them go.
  void drop_pages_locked(Room& room);
  // The messages were replaced wholesale: pages go, bytes counted anew.
  void recount_locked(Room& room);
  void on_loaded(const std::string& room_id, std::uint64_t generation, const chat::GetChatHistoryResponse* page);
  // Forgets the rooms read least recently (and unwatches them) while over max_bytes.
  void evict_locked(const std::string& keep);
  static std::size_t message_bytes(const chat::ChatMessage& message);
  void count_locked(std::uint64_t from_copy, std::uint64_t from_service);
  void count_reload_locked();

  const Limits limits_;
  const Service service_;
  const Counters counters_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, Room> rooms_;
  std::list<std::string> recency_;  // most recently read first
  bool stream_up_ = false;
  bool refused_ = false;  // the service does not take watches
  bool watches_answered_ = false;  // a Watch of this stream was answered
  std::uint64_t last_token_ = 0;
  Stats stats_;
};

}  // namespace chat::history_http
