// Presence across chat nodes: which users each node has in each room, in
// the `presence` table, held by the node's lease in `chat_nodes`.
//
// A thread with a connection of its own writes the joins and leaves this
// node's rooms queue (a join never waits for the database), NOTIFYs the
// other nodes of each, renews the lease every third of it, and ends the
// presence of nodes whose lease ran out (they died), announcing their users
// as left to every node. After the database comes back it writes this
// node's presence anew from what it holds, the truth of its own users.
#pragma once

#include "store/history_store.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>

namespace chat::store::pg {

inline constexpr const char* kPresenceChannel = "chat_presence";

// What a node says on the presence channel: a user joined or left a room,
// or is typing in it, or stopped.
enum class PresenceKind : char { Joined = 'J', Left = 'L', Typing = 'T', Stopped = 'S' };

// A NOTIFY payload: "<kind>:<node bytes>:<room bytes>:<node><room><user>",
// kind one of J, L, T, S: ids may hold any character but U+0000.
std::string presence_payload(PresenceKind kind, const std::string& node, const std::string& room,
                             const std::string& user);
struct PresenceNews {
  PresenceKind kind = PresenceKind::Joined;
  std::string node, room, user;
};
std::optional<PresenceNews> parse_presence_payload(const std::string& payload);

class PresenceKeeper {
 public:
  PresenceKeeper(std::string url, std::string node_id, std::chrono::seconds lease);
  ~PresenceKeeper();  // stops the thread; the lease runs out by itself
  PresenceKeeper(const PresenceKeeper&) = delete;
  PresenceKeeper& operator=(const PresenceKeeper&) = delete;

  void joined(const std::string& room, const std::string& user);
  void left(const std::string& room, const std::string& user);
  // Said to the other nodes only (nothing written), and dropped while the
  // database is away.
  void typing(const std::string& room, const std::string& user, bool stopped);

 private:
  struct Change {
    PresenceKind kind;
    std::string room, user;
  };
  void run();

  const std::string url_;
  const std::string node_id_;
  const std::chrono::seconds lease_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Change> changes_;                             // to write, in order
  std::set<std::pair<std::string, std::string>> present_;  // (room, user) this node has
  std::thread thread_;
};

}  // namespace chat::store::pg
