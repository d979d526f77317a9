// One Chat stream to grpc-chat, shared by every local client in the rooms it
// carries (rooms are spread over the links by a hash of their id).
//
// On that stream the proxy joins each (room, user) its clients are in, once,
// and leaves when the last local connection of that user leaves the room.
// Each message of a room arrives once and is fanned out to the room's local
// clients as one shared frame. Acks and errors go back to the connection that
// sent the message (ids that collide between connections are rewritten
// upstream and restored for their sender).
//
// When the stream breaks the link keeps its rooms, fails what awaits an
// answer with UNAVAILABLE, and reconnects with backoff, to the next chat
// node that serves when there are several (they share rooms through
// PostgreSQL), so a node that dies or drains loses the link's streams to
// another; a node that stops serving by gRPC health (it hangs, or lost its
// database) has its streams ended and moved the same way. Once the service
// answers again and the clients were told (resume()), it re-joins every room
// with `since` = the last sequence it delivered there, so the replay fills
// the gap (deduplicated by sequence).
//
// Answers to joins are routed by order: grpc-chat answers Joined, the
// replayed messages, then a presence SNAPSHOT, contiguously on the stream.
#pragma once

#include "chat.grpc.pb.h"

#include "bridge/chat_call.hpp"
#include "net/chat_node_health.hpp"
#include "net/chat_service_check.hpp"

#include "client.hpp"
#include "fanout.hpp"
#include "local_room.hpp"
#include "proxy_options.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/logger.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace chat::proxy {

using chat::bridge::ChatCall;
using chat::bridge::ChatCallSink;
using chat::bridge::ChatStreamStub;

enum class SendResult {
  Sent,
  Joined,       // sent, and the client joined the room by it
  Unavailable,
  Busy,
  RoomLimit,    // not sent: the client is not in the room and may join no more
};

class UpstreamLink final : public ChatCallSink {
 public:
  // `channels`: one per chat node, in the order the link tries them;
  // `health` says which serve (null with one node); `fanout` carries every
  // frame for the clients.
  UpstreamLink(std::size_t index, std::vector<std::shared_ptr<grpc::Channel>> channels,
               const chat::net::ChatNodeHealth* health, const Fanout& fanout, boost::asio::any_io_executor executor,
               const ProxyOptions& options,
               std::shared_ptr<spdlog::logger> log, std::function<void()> status_changed);
  ~UpstreamLink() override;
  UpstreamLink(const UpstreamLink&) = delete;
  UpstreamLink& operator=(const UpstreamLink&) = delete;

  void start();
  // Ends the call and waits for it (bounded); after this nothing is sent.
  // False when the call did not finish in time (then the link must not be
  // destroyed).
  bool stop(std::chrono::milliseconds timeout);

  // Whether the stream reaches the chat service (it answered), re-joined or not.
  bool available() const;
  std::size_t index() const { return index_; }
  // Once the Bridge has told the clients the service is back: re-joins every
  // room and takes messages again. A stream that answers again waits for
  // this, so clients hear "available" before the messages they missed.
  void resume();
  // Chat node `node` stopped serving: a stream on it ends and reconnects to
  // one that serves, if another does.
  void leave_node(std::size_t node);

  // --- from WebSocket sessions (each on the thread of its shard)

  // Which rooms a connection is in is kept here, once for the whole proxy:
  // the link that carries a room knows its members, and which of its rooms
  // each connection is in. Sessions ask; only the connection's own thread
  // changes its memberships.

  // `client` joins `room` as `user`; `since`: the last sequence it has.
  // `answer`: forward Joined and the presence snapshot (an explicit join);
  // an implicit join (by sending) only makes the client a member. While the
  // service is unavailable the join waits and is sent on reconnect. True
  // when the client was not in the room before.
  bool join(const ClientPtr& client, const std::string& room, const std::string& user,
            std::optional<std::uint64_t> since, bool answer);
  // False when the client was not in the room.
  bool leave(const Client& client, const std::string& room, const std::string& user);
  // The connection ended: it leaves every room it is in on this link.
  void leave_all(const Client& client);
  bool is_member(const Client& client, const std::string& room) const;
  // The rooms `client` is in on this link.
  std::vector<std::string> rooms_of(const Client& client) const;
  // Sends a validated message. A client not in the room yet joins it first
  // (messages-only clients join by sending) when `may_join`.
  SendResult send_message(const ClientPtr& client, ChatMessage message, bool may_join);
  // `user` is typing in `room` (or `stopped`): passed on while the service
  // is available and the stream not busy, else dropped (it is ephemeral).
  void typing(const std::string& room, const std::string& user, bool stopped);

  // --- ChatCallSink
  void on_accepted(ChatCall& call) override;
  void on_events(ChatCall& call, std::span<const ChatStream* const> events) override;
  void on_ended(ChatCall& call) override;
  void on_done(const grpc::Status& status) override;

 private:
  struct JoinRequest {
    std::string room;
    std::string user;
    std::uint64_t client_id = 0;  // 0: the link's own re-join after a reconnect
    bool answer = false;
  };
  // The join whose answer (Joined, replay, snapshot) is arriving.
  struct Answer {
    JoinRequest request;
    std::uint64_t last_sequence = 0;
    std::uint64_t replay_left = 0;
    bool history_gap = false;
  };
  struct PendingSend {
    ClientWeak client;
    std::string client_message_id;  // what the client called it
    bool rewritten = false;
  };
  using PendingKey = std::tuple<std::string, std::string, std::string>;  // room, sender, upstream id

  // Connected: the service answered; waiting for resume() to re-join.
  enum class State { Idle, Connecting, Connected, Available, Stopped };

  void start_call_locked();
  // Whether the call's node serves, by gRPC health: once it does, the
  // stream reaches a working chat service. Asked again, with backoff, until
  // it does or the call ends.
  void check_ready(std::uint64_t call_number);
  void on_ready_check(std::uint64_t call_number, bool serving, const std::string& why);
  // The call is accepted and its node serves: available (Connected).
  bool maybe_ready_locked();
  void schedule_ready_check_locked();
  // reconnect_min doubling with each attempt, up to reconnect_max, jittered.
  std::chrono::milliseconds next_backoff_locked();
  void schedule_reconnect_locked();
  void became_available_locked();
  void rejoin_locked();
  void send_join_locked(const JoinRequest& request, std::optional<std::uint64_t> since);
  bool write_locked(ChatStream frame);

  void on_message(const ChatStream& event);
  void on_joined(const Joined& joined);
  void on_presence(const ChatStream& event);
  void on_typing(const ChatStream& event);
  void on_ack(Ack ack);
  void on_error(const ChatStream& event);
  void finish_replay_locked();
  std::optional<PendingSend> take_pending_locked(const std::string& room, const std::string& sender,
                                                 const std::string& id, bool id_may_be_server_id,
                                                 const std::string& server_id);
  std::string unique_upstream_id_locked(const std::string& room, const std::string& sender, const std::string& id);
  LocalRoom& room_locked(const std::string& room);  // made when missing
  bool is_member_locked(std::uint64_t client_id, const std::string& room) const;
  // `client` is in `room` now (it was not), or no longer.
  void remember_member_locked(std::uint64_t client_id, const std::string& room);
  void forget_member_locked(std::uint64_t client_id, const std::string& room);
  LocalRoom* find_room_locked(const std::string& room);

  const std::size_t index_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<ChatStreamStub>> stubs_;  // one per channel
  const chat::net::ChatNodeHealth* health_;
  const Fanout& fanout_;
  const ProxyOptions& options_;
  std::shared_ptr<spdlog::logger> log_;
  std::function<void()> status_changed_;

  mutable std::mutex mutex_;
  std::condition_variable calls_changed_;
  State state_ = State::Idle;
  ChatCall* call_ = nullptr;  // the current call, until it ends
  std::uint64_t call_number_ = 0;  // of the current (or last) call: a check answers for one call
  std::shared_ptr<chat::net::ChatServiceCheck> ready_check_;
  bool call_accepted_ = false;  // the current call's
  bool node_serves_ = false;    // the current call's node, by its last check
  unsigned checks_failed_ = 0;  // the current call's
  std::size_t calls_alive_ = 0;  // gRPC calls not done yet: streams and checks
  boost::asio::any_io_executor executor_;
  boost::asio::steady_timer reconnect_timer_;  // the next call, or the next check of this one
  unsigned attempt_ = 0;
  std::size_t node_ = 0;  // the channel the current (or next) call uses
  bool ever_available_ = false;

  std::unordered_map<std::string, LocalRoom> rooms_;
  // client id -> the rooms above it is in: the same memberships as the
  // rooms' members, by connection, for leave_all and rooms_of.
  std::unordered_map<std::uint64_t, std::vector<std::string>> rooms_by_client_;
  std::deque<JoinRequest> join_requests_;  // sent, not answered yet, in order
  std::optional<Answer> answer_;
  std::map<PendingKey, std::deque<PendingSend>> pending_;
  std::uint64_t rewrites_ = 0;
};

}  // namespace chat::proxy
