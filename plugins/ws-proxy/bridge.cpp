#include "bridge.hpp"

#include "chat_json.hpp"
#include "ws_session.hpp"

#include "tls/grpc_credentials.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>

namespace chat::proxy {
namespace {

// How often each chat node is asked whether it serves, when there are several.
constexpr std::chrono::milliseconds kNodeHealthPeriod{1000};

std::shared_ptr<grpc::Channel> make_channel(const ProxyOptions& options, std::size_t index, const std::string& node) {
  grpc::ChannelArguments args;
  // gRPC's own connection backoff, within the configured bounds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(options.reconnect_min.count()));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(options.reconnect_min.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options.reconnect_max.count()));
  // One TCP connection per stream, so streams do not share one transport.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("chat.ws_proxy.stream", static_cast<int>(index));
  return chat::tls::make_chat_channel(node, options.chat_tls, args);
}

// Stream `index`'s channel to each chat node.
std::vector<std::shared_ptr<grpc::Channel>> make_channels(const ProxyOptions& options, std::size_t index) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto& node : options.chat_nodes) channels.push_back(make_channel(options, index, node));
  return channels;
}

// The health checks' own channel to each node (a stream's channel carries
// its stream only).
std::unique_ptr<chat::net::ChatNodeHealth> make_node_health(const ProxyOptions& options,
                                                            std::shared_ptr<spdlog::logger> log,
                                                            chat::net::ChatNodeHealth::Changed changed) {
  if (options.chat_nodes.size() < 2) return nullptr;  // nothing to choose from
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto& node : options.chat_nodes) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(kNodeHealthPeriod.count()));
    channels.push_back(chat::tls::make_chat_channel(node, options.chat_tls, args));
  }
  return std::make_unique<chat::net::ChatNodeHealth>(std::move(channels), options.chat_nodes, kNodeHealthPeriod,
                                                     std::move(log), std::move(changed));
}

// Answers a refused `frame` with `error`, naming the room, user and message
// it carried so the client can tell which one failed.
void send_refusal(WsSession& session, Error error, const char* frame, const std::string& room,
                  const std::string& user, const std::string& id = {}) {
  error.set_frame(frame);
  name_refused(error, id, room, user);
  session.send(make_error_frame(error));
}

// The ids every join and leave carries.
std::optional<Error> check_room_and_user(const std::string& room, const std::string& user, const char* frame) {
  auto bad = check_id(room, "room_id", frame);
  if (!bad) bad = check_id(user, "user_id", frame);
  return bad;
}

// What a connection says of a room it is in (leave, typing): as its own
// user (filled in when the frame leaves it out), of a room it joined. When
// not, the frame is answered with the refusal and false returned.
template <typename Frame>
bool said_by_member(WsSession& session, Frame& frame, const char* kind) {
  const ClientState& state = session.chat_state();
  if (frame.user_id().empty() && !state.user.empty()) frame.set_user_id(state.user);
  const std::string& room = frame.room_id();
  const std::string& user = frame.user_id();
  auto bad = check_room_and_user(room, user, kind);
  if (!bad && user != state.user) {
    bad = make_error(Error::NOT_ALLOWED, state.user.empty()
                                          ? "this connection has not joined as anyone"
                                          : "this connection is user '" + state.user + "', not '" + user + "'");
  }
  if (!bad && !state.rooms.contains(room)) bad = make_error(Error::NOT_MEMBER, "not in room '" + room + "'");
  if (bad) send_refusal(session, std::move(*bad), kind, room, user);
  return !bad;
}

Error not_granted(const std::string& room) {
  return make_error(Error::NOT_ALLOWED, "the token does not grant room '" + room + "'");
}

Error too_many_rooms(std::size_t limit) {
  return make_error(Error::NOT_ALLOWED, "a connection may be in at most " + std::to_string(limit) + " rooms");
}

std::vector<boost::asio::any_io_executor> executors(IoShards& shards) {
  std::vector<boost::asio::any_io_executor> all;
  for (std::size_t i = 0; i < shards.size(); ++i) all.emplace_back(shards.at(i).get_executor());
  return all;
}

}  // namespace

Bridge::Bridge(const ProxyOptions& options, IoShards& shards, std::shared_ptr<spdlog::logger> log,
               ProxyMetrics metrics)
    : options_(options), log_(std::move(log)), metrics_(metrics), fanout_(executors(shards)) {
  node_health_ = make_node_health(options_, log_, [this](std::size_t node, bool serving) {
    if (serving) return;
    for (auto& link : links_) link->leave_node(node);
  });
  for (std::size_t i = 0; i < options_.upstream_streams; ++i) {
    links_.push_back(std::make_unique<UpstreamLink>(i, make_channels(options_, i), node_health_.get(), fanout_,
                                                    shards.at(0).get_executor(), options_, log_,
                                                    [this] { link_status_changed(); }));
  }
  metrics_.upstream_available->set(0);
}

Bridge::~Bridge() = default;

void Bridge::start() {
  if (node_health_) node_health_->start();
  for (auto& link : links_) link->start();
}

bool Bridge::available() const {
  return std::all_of(links_.begin(), links_.end(), [](const auto& link) { return link->available(); });
}

bool Bridge::wait_available(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return announced_available_; });
}

UpstreamLink& Bridge::link_for(const std::string& room) {
  if (links_.size() == 1) return *links_.front();
  return *links_[std::hash<std::string>{}(room) % links_.size()];
}

Frame Bridge::status_frame(bool available) {
  ChatStream event;
  auto* status = event.mutable_service_status();
  status->set_available(available);
  if (!available) status->set_message("the chat service cannot be reached; reconnecting");
  return make_frame(event);
}

void Bridge::link_status_changed() {
  // Computed under the lock, so two changes racing cannot announce in the
  // wrong order (links never call back while holding their own lock).
  std::lock_guard lock(mutex_);
  const bool now = available();
  if (now != announced_available_) {
    announced_available_ = now;
    metrics_.upstream_available->set(now ? 1 : 0);
    if (now) {
      log_->info("chat service available; telling {} clients", sessions_.size());
    } else {
      log_->warn("chat service unavailable; telling {} clients, reconnecting", sessions_.size());
    }
    // Through the fan-out, as the links' frames: after what a link had
    // queued for the client before (the errors for what it had in flight).
    const Frame frame = status_frame(now);
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) fanout_.send(session, frame);
    }
    changed_.notify_all();
  }
  // Only now, with every client told, do the streams that came back re-join
  // their rooms: what a client missed arrives after the news that the
  // service is back, never before (also when streams return one by one).
  if (now) {
    for (auto& link : links_) link->resume();
  }
}

bool Bridge::announced_available() const {
  std::lock_guard lock(mutex_);
  return announced_available_;
}

// ---------------------------------------------------------------------------
// Sessions


void Bridge::opened(const std::shared_ptr<WsSession>& session, const UpgradeTarget& target) {
  {
    std::lock_guard lock(mutex_);
    sessions_.emplace(session->id(), session);
    // Under the lock: no status change can slip between this and the registration.
    session->send(status_frame(announced_available_));
  }
  metrics_.connections->add(1);
  ClientState& state = session->chat_state();
  state.granted = target.rooms;
  if (!target.user.empty()) {
    state.user = target.user;
    session->set_full_protocol();
  }
  if (!target.room.empty()) {
    state.rooms.insert(target.room);
    link_for(target.room).join(session, target.room, state.user, std::nullopt, true);
  }
}

void Bridge::closed(WsSession& session) {
  ClientState& state = session.chat_state();
  for (const auto& room : state.rooms) link_for(room).leave(session, room, state.user);
  state.rooms.clear();
  {
    std::lock_guard lock(mutex_);
    sessions_.erase(session.id());
    changed_.notify_all();
  }
  metrics_.connections->add(-1);
}

void Bridge::close_sessions(std::chrono::milliseconds timeout) {
  std::vector<std::shared_ptr<WsSession>> open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
  }
  for (const auto& session : open) session->close(ws::CloseCode::going_away, "server stopping");
  open.clear();
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return sessions_.empty(); })) {
    log_->warn("{} WebSocket sessions still open after {} ms", sessions_.size(), timeout.count());
  }
}

void Bridge::stop_links(std::chrono::milliseconds timeout) {
  // First: no link is told to move while it stops.
  if (node_health_) node_health_->stop();
  for (auto& link : links_) {
    if (!link->stop(timeout)) {
      // Its call may still report to it: never destroy it.
      log_->error("stream {} to the chat service did not end within {} ms", link->index(), timeout.count());
      static_cast<void>(link.release());
    }
  }
}

// ---------------------------------------------------------------------------
// Frames from clients

void Bridge::on_text(const std::shared_ptr<WsSession>& session, std::string_view text) {
  ChatStream frame;
  if (auto why = chat::json::decode(text, frame); !why.empty()) {
    session->send(make_error_frame(describe_bad_frame(text, why)));
    return;
  }
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage: on_chat_message(session, *frame.mutable_chat_message()); return;
    case ChatStream::kJoin: on_join(session, *frame.mutable_join()); return;
    case ChatStream::kLeave: on_leave(session, *frame.mutable_leave()); return;
    case ChatStream::kTyping: on_typing(session, *frame.mutable_typing()); return;
    case ChatStream::PAYLOAD_NOT_SET:
      session->send(
          make_error_frame(make_error(Error::UNKNOWN_PAYLOAD, "frame has no payload; send chat_message, join or leave")));
      return;
    default: {
      const std::string name(payload_name(frame));
      session->send(make_error_frame(make_error(
          Error::UNKNOWN_PAYLOAD, "clients do not send " + name + " frames; send chat_message, join or leave", name)));
      return;
    }
  }
}

void Bridge::on_chat_message(const std::shared_ptr<WsSession>& session, ChatMessage& message) {
  ClientState& state = session->chat_state();
  if (message.sender_id().empty() && !state.user.empty()) message.set_sender_id(state.user);
  auto refuse = [&](Error error) {
    send_refusal(*session, std::move(error), "chat_message", message.room_id(), message.sender_id(), message.id());
  };
  std::optional<Error> bad = check_id(message.room_id(), "room_id", "chat_message");
  if (!bad) bad = check_id(message.sender_id(), "sender_id", "chat_message");
  if (!bad) bad = check_id(message.id(), "id", "chat_message", /*required=*/false);
  if (!bad && message.content().empty()) {
    bad = make_error(Error::MISSING_FIELD, "content is required");
  }
  if (bad) return refuse(std::move(*bad));
  if (!state.user.empty() && message.sender_id() != state.user) {
    return refuse(make_error(Error::NOT_ALLOWED, "this connection is user '" + state.user + "'; it cannot send as '" +
                                                  message.sender_id() + "'"));
  }
  if (!state.granted.allows(message.room_id())) return refuse(not_granted(message.room_id()));
  const bool join_first = !state.rooms.contains(message.room_id());
  if (join_first && state.rooms.size() >= options_.max_rooms_per_connection) {
    return refuse(too_many_rooms(options_.max_rooms_per_connection));
  }
  state.user = message.sender_id();
  const std::string room = message.room_id();
  UpstreamLink& link = link_for(room);
  SendResult result = link.send_message(session, message, join_first);
  if (result == SendResult::Unavailable && announced_available()) {
    // Clients are told the service is back a moment before the links re-join
    // their rooms and take messages (link_status_changed): a client quick to
    // answer "available" must not be refused. Past the Bridge's lock that
    // moment is over.
    result = link.send_message(session, message, join_first);
  }
  switch (result) {
    case SendResult::Sent:
      if (join_first) state.rooms.insert(room);
      return;
    case SendResult::Unavailable:
      return refuse(make_error(Error::UNAVAILABLE, "not sent: the chat service is unavailable"));
    case SendResult::Busy: return refuse(make_error(Error::UNAVAILABLE, "not sent: the chat service is busy; try again"));
  }
}

void Bridge::on_join(const std::shared_ptr<WsSession>& session, Join& join) {
  ClientState& state = session->chat_state();
  if (join.user_id().empty() && !state.user.empty()) join.set_user_id(state.user);
  auto refuse = [&](Error error) {
    send_refusal(*session, std::move(error), "join", join.room_id(), join.user_id());
  };
  if (auto bad = check_room_and_user(join.room_id(), join.user_id(), "join")) return refuse(std::move(*bad));
  if (!state.user.empty() && join.user_id() != state.user) {
    return refuse(make_error(Error::NOT_ALLOWED,
                          "this connection is user '" + state.user + "'; it cannot join as '" + join.user_id() + "'"));
  }
  if (!state.granted.allows(join.room_id())) return refuse(not_granted(join.room_id()));
  if (!state.rooms.contains(join.room_id()) && state.rooms.size() >= options_.max_rooms_per_connection) {
    return refuse(too_many_rooms(options_.max_rooms_per_connection));
  }
  state.user = join.user_id();
  session->set_full_protocol();
  state.rooms.insert(join.room_id());
  std::optional<std::uint64_t> since;
  if (join.has_since()) since = join.since();
  link_for(join.room_id()).join(session, join.room_id(), join.user_id(), since, true);
}

void Bridge::on_leave(const std::shared_ptr<WsSession>& session, Leave& leave) {
  if (!said_by_member(*session, leave, "leave")) return;
  ClientState& state = session->chat_state();
  state.rooms.erase(leave.room_id());
  state.typing_passed.erase(leave.room_id());
  link_for(leave.room_id()).leave(*session, leave.room_id(), leave.user_id());
}

void Bridge::on_typing(const std::shared_ptr<WsSession>& session, Typing& typing) {
  if (!said_by_member(*session, typing, "typing")) return;
  ClientState& state = session->chat_state();
  const auto now = std::chrono::steady_clock::now();
  if (typing.stopped()) {
    state.typing_passed.erase(typing.room_id());
  } else {
    auto [passed, first] = state.typing_passed.try_emplace(typing.room_id(), now);
    if (!first) {
      if (now - passed->second < std::chrono::seconds(1)) return;  // said a moment ago
      passed->second = now;
    }
  }
  link_for(typing.room_id()).typing(typing.room_id(), typing.user_id(), typing.stopped());
}

}  // namespace chat::proxy
