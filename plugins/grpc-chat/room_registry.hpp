// Who is in which room, over which stream, as which user; and delivery of
// each stored message to every stream with a member in its room.
//
// Membership is per (stream, room, user): a bridge multiplexes many users over
// one stream and gets each room's message once, whatever its member count.
#pragma once

#include "service_limits.hpp"
#include "store/history_store.hpp"
#include "stream_session.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace chat::service {

// Builds the ChatMessage a client sees for a stored message (in `out`: a
// message of a response that lives in an arena).
ChatMessage to_proto(const store::StoredMessage& message);
void to_proto(const store::StoredMessage& message, ChatMessage& out);
// The server's id of a stored message, "room:sequence".
std::string server_id_of(const store::StoredMessage& message);

class RoomRegistry {
 public:
  RoomRegistry(store::HistoryStore& store, const ServiceLimits& limits);

  void add_session(const SessionPtr& session);
  // The stream ended: its memberships go, others see the users leave.
  void remove_session(const SessionPtr& session);

  // An explicit join: answers Joined, replays since `since` (or says the gap
  // cannot be filled), then a presence snapshot; live messages follow.
  void join(const SessionPtr& session, const std::string& room, const std::string& user,
            std::optional<std::uint64_t> since);
  // Joining by sending (messages-only clients): membership only, no answer.
  void join_implicitly(const SessionPtr& session, const std::string& room, const std::string& user);
  bool is_member(const SessionPtr& session, const std::string& room, const std::string& user) const;
  // (room, user) memberships the stream holds, and its watches.
  std::size_t memberships(const SessionPtr& session) const;
  // False when the user was not in the room on that stream.
  bool leave(const SessionPtr& session, const std::string& room, const std::string& user);

  // A reader of the room's history (chat.Watch): the stream gets the room's
  // messages from now on, as no user. Answers Watching with `token` once
  // every message of the room stored before now, on any node, has been sent
  // on the stream. Throws store::StoreError when the store cannot tell.
  void watch(const SessionPtr& session, const std::string& room, std::uint64_t token);
  bool is_watching(const SessionPtr& session, const std::string& room) const;
  // False when the stream did not watch the room.
  bool unwatch(const SessionPtr& session, const std::string& room);

  // Called by the committer, in sequence order per room, after the commit.
  // `ack`, when given, goes to `sender` once the room counts the message.
  // With a shared store, messages other nodes committed before it are read
  // from the store and delivered first: every member sees one order.
  void deliver(const store::StoredMessage& message, const SessionPtr& sender = nullptr, const Event& ack = nullptr);
  // Another node committed to `room_id`: delivers what this node has not,
  // from the store, in order.
  void catch_up(const std::string& room_id);
  // Wake-ups may have been lost: catch_up() on every room with members,
  // and its presence through other nodes read again.
  void catch_up_all();
  // A user joined or left `room_id` through another node (or that node
  // died): members here hear JOINED or LEFT when the user's presence in the
  // room, counting every node, changes.
  void presence_elsewhere(const std::string& room_id, const std::string& user, const std::string& node, bool joined);
  // `user`, a member of `room_id` here, is typing (or `stopped`): the room's
  // members that take events hear it, on every node. At most one a second
  // per user and room passes (`stopped` always); never stored.
  void typing(const std::string& room_id, const std::string& user, bool stopped);
  // The same, said on another node: members here hear it.
  void typing_elsewhere(const std::string& room_id, const std::string& user, bool stopped);
  // catch_up() on the rooms whose store reads failed (about once a second).
  void catch_up_behind();
  // The room may have messages in the store it has not delivered (a commit
  // whose outcome is unknown): catch_up_behind() reads it.
  void maybe_behind(const std::string& room_id);

  // Users: anyone who joined or sent, and everyone in the store.
  void remember_user(const std::string& user);
  std::optional<UserStatus> user_status(const std::string& user) const;

  // Finishes every stream (server stop).
  void finish_all(const grpc::Status& status);
  // Waits until every stream has ended; false if some remain at `deadline`.
  bool wait_all_ended(std::chrono::steady_clock::time_point deadline);

 private:
  struct Member {
    SessionPtr session;
    std::set<std::string> users;
    bool watching = false;  // a reader of the room's history (chat.Watch)
  };
  struct Room {
    std::uint64_t last_sequence = 0;  // the newest delivered
    std::map<std::uint64_t, Member> members;  // by session id: stable order
    std::map<std::string, int> user_streams;   // user -> streams they are in the room on
    std::map<std::string, std::set<std::string>> elsewhere;  // user -> other nodes they are in it through
    // user -> when their last "typing" was passed on (users of this node in
    // the room only: the entry goes when they leave).
    std::map<std::string, std::chrono::steady_clock::time_point> typing_passed;
  };

  Room& room_locked(const std::string& room_id);
  // Adds the membership; returns whether the user was new to the room (on
  // every node).
  bool add_member_locked(const std::string& room_id, Room& room, const SessionPtr& session, const std::string& user);
  void read_presence_elsewhere(const std::string& room_id, Room& room);
  void refresh_presence_locked(const std::string& room_id, Room& room);
  static bool present_locked(const Room& room, const std::string& user);
  static std::size_t online_count_locked(const Room& room);
  bool remove_member_locked(const std::string& room_id, Room& room, std::uint64_t session_id, const std::string& user);
  // The stream's member goes unless it has users, and the room with its last member.
  void remove_watch_locked(const std::string& room_id, std::uint64_t session_id);
  void send_presence_locked(const std::string& room_id, const Room& room, Presence::Kind kind,
                            const std::string& user, const SessionPtr& only_to);
  // Delivers the room's messages after its last_sequence, up to `before`
  // (0: all), read from the store. False, and the room is behind, when the
  // store could not be read.
  bool fill_from_store_locked(const std::string& room_id, Room& room, std::uint64_t before);
  static Event message_event(const store::StoredMessage& message);
  void send_to_members_locked(const Room& room, const Event& event);
  void send_typing_locked(const std::string& room_id, const Room& room, const std::string& user, bool stopped);
  void replay_locked(const SessionPtr& session, const std::string& room_id, const std::string& user,
                     std::optional<std::uint64_t> since, std::uint64_t last_sequence);

  store::HistoryStore& store_;
  const ServiceLimits limits_;

  mutable std::mutex mutex_;
  std::condition_variable sessions_changed_;
  std::unordered_map<std::string, Room> rooms_;
  std::map<std::uint64_t, SessionPtr> sessions_;
  // session id -> (room, user) memberships, for remove_session.
  std::unordered_map<std::uint64_t, std::set<std::pair<std::string, std::string>>> memberships_;
  std::unordered_map<std::uint64_t, std::set<std::string>> watches_;  // session id -> rooms it watches
  std::set<std::string> known_users_;
  std::unordered_map<std::string, int> online_;  // user -> memberships over all rooms
  std::set<std::string> behind_;  // rooms with messages in the store they could not read yet
};

}  // namespace chat::service
