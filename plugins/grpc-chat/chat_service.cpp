#include "chat_service.hpp"

#include "frame_batches.hpp"
#include "frame_validation.hpp"
#include "tsan/annotations.hpp"

#include <algorithm>
#include <chrono>

namespace chat::service {
namespace {

constexpr std::uint32_t kDefaultHistoryLimit = 50;
constexpr std::uint32_t kMaxHistoryLimit = 1000;
constexpr std::uint32_t kDefaultSendersLimit = 200;
constexpr std::uint32_t kMaxSendersLimit = 1000;

// What a query of one room asks for: a room, and at most `max_limit` rows
// (0: the default).
grpc::Status check_room_and_limit(const std::string& room_id, std::uint32_t limit, std::uint32_t max_limit) {
  if (room_id.empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "room_id is required"};
  if (limit > max_limit) {
    return {grpc::StatusCode::INVALID_ARGUMENT, "limit must be at most " + std::to_string(max_limit)};
  }
  return grpc::Status::OK;
}

// One Chat call. Reads frames one at a time and hands them to the service;
// everything outgoing goes through its StreamSession (one write in flight).
// Every operation on it is started after tsan::handoff(reactor), and every
// reaction begins with tsan::received(this): see tsan/annotations.hpp.
class ChatStreamReactor final : public StreamReactor {
 public:
  ChatStreamReactor(ChatServiceImpl& service, grpc::CallbackServerContext* context, SessionPtr session)
      : service_(service), session_(std::move(session)) {
    // Accepted: the client learns it now, not with the first event (a
    // bridge's stream counts as up once accepted and its node serves).
    // Before attach, so no write can start ahead of it. A stream that asked
    // for batches hears that it may send them too.
    if (session_->takes_batches()) chat::batches::answer(*context);
    tsan::handoff(this);
    StartSendInitialMetadata();
    session_->attach(this, context, &incoming_);
    tsan::handoff(this);
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    tsan::received(this);
    if (!ok) {
      // The client closed its side (or the call ended): finish once our side is written.
      session_->finish(grpc::Status::OK);
      return;
    }
    service_.handle_frame(session_, incoming_);
    session_->read_next();
  }

  void OnWriteDone(bool ok) override {
    tsan::received(this);
    session_->on_write_done(ok);
  }

  void OnCancel() override {
    tsan::received(this);
    session_->finish(grpc::Status::CANCELLED, /*drop_queue=*/true);
  }

  void OnDone() override {
    tsan::received(this);
    session_->detach();
    service_.stream_ended(session_);
    delete this;
  }

 private:
  ChatServiceImpl& service_;
  SessionPtr session_;
  grpc::ByteBuffer incoming_;
};

// A Chat call refused before it began: finished at once with `status`.
class RefusedStream final : public StreamReactor {
 public:
  explicit RefusedStream(const grpc::Status& status) {
    // Before the stream is bound, Finish only stores the status: the
    // hand-off comes after it, so OnDone sees the reactor as it was left.
    Finish(status);
    tsan::handoff(this);
  }
  void OnDone() override {
    tsan::received(this);
    delete this;
  }
};

// Answers a unary call at once.
grpc::ServerUnaryReactor* finish_now(grpc::CallbackServerContext* context, const grpc::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

// A history page read into an arena. 64 KiB to start: a page of 100 messages
// of 100 bytes (about 30 KiB in memory) takes one block.
class HistoryArenaHolder final : public grpc::MessageHolder<GetChatHistoryRequest, GetChatHistoryResponse> {
 public:
  HistoryArenaHolder() : arena_(arena_options()) {
    set_request(google::protobuf::Arena::CreateMessage<GetChatHistoryRequest>(&arena_));
    set_response(google::protobuf::Arena::CreateMessage<GetChatHistoryResponse>(&arena_));
  }
  void Release() override { delete this; }

 private:
  static google::protobuf::ArenaOptions arena_options() {
    google::protobuf::ArenaOptions options;
    options.start_block_size = 64 << 10;
    return options;
  }
  google::protobuf::Arena arena_;
};

}  // namespace

grpc::MessageHolder<GetChatHistoryRequest, GetChatHistoryResponse>* HistoryArenaAllocator::AllocateMessages() {
  return new HistoryArenaHolder();
}

ChatServiceImpl::ChatServiceImpl(store::HistoryStore& store, RoomRegistry& rooms, MessageCommitter& committer,
                                 const ServiceLimits& limits, const CallerPolicy& callers,
                                 AdminIdentity admin, std::shared_ptr<spdlog::logger> log,
                                 chathost::Gauge& open_streams, chathost::Counter& refused_calls)
    : store_(store),
      rooms_(rooms),
      committer_(committer),
      limits_(limits),
      callers_(callers),
      admin_(std::move(admin)),
      log_(std::move(log)),
      open_streams_(open_streams),
      refused_calls_(refused_calls) {
  SetMessageAllocatorFor_GetChatHistory(&history_allocator_);
}

CallerCheck ChatServiceImpl::check_caller(const grpc::CallbackServerContext& context, const char* method) {
  auto check = callers_.check(context);
  if (check.ok()) return check;
  refused_calls_.inc();
  // At most one line a second: a caller knocking again and again must not
  // flood the log (the counter has them all).
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  auto last = last_refusal_logged_.load(std::memory_order_relaxed);
  if (now > last && last_refusal_logged_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    log_->warn("refused a {} call from {}: {}", method, context.peer(), check.status.error_message());
  }
  return check;
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetUser(grpc::CallbackServerContext* context, const GetUserRequest* request,
                                               GetUserResponse* response) {
  if (auto caller = check_caller(*context, "GetUser"); !caller.ok()) return finish_now(context, caller.status);
  const std::string& id = request->user_id();
  if (id.empty()) return finish_now(context, {grpc::StatusCode::INVALID_ARGUMENT, "user_id is required"});
  auto status = rooms_.user_status(id);
  User* user = response->mutable_user();
  user->set_id(id);
  if (id == admin_.id) {
    user->set_name(admin_.name);
    user->set_email(admin_.email);
    user->set_status(status.value_or(INACTIVE));
  } else if (status) {
    user->set_name(id);
    user->set_status(*status);
  } else {
    response->Clear();
    return finish_now(context, {grpc::StatusCode::NOT_FOUND, "no user with id '" + id + "'"});
  }
  return finish_now(context, grpc::Status::OK);
}

grpc::Status ChatServiceImpl::check_room_call(const grpc::CallbackServerContext& context, const char* method,
                                              const std::string& room_id, std::uint32_t limit,
                                              std::uint32_t max_limit) {
  if (auto caller = check_caller(context, method); !caller.ok()) return caller.status;
  return check_room_and_limit(room_id, limit, max_limit);
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetChatHistory(grpc::CallbackServerContext* context,
                                                      const GetChatHistoryRequest* request,
                                                      GetChatHistoryResponse* response) {
  const auto refused = check_room_call(*context, "GetChatHistory", request->room_id(), request->limit(), kMaxHistoryLimit);
  if (!refused.ok()) return finish_now(context, refused);
  store::HistoryQuery query;
  query.room_id = request->room_id();
  query.sender_id = request->sender_id();
  query.limit = request->limit() == 0 ? kDefaultHistoryLimit : request->limit();
  query.before = request->before();
  if (request->has_after()) query.after = request->after();
  // A page of 1000 long messages is megabytes, built and sent per call:
  // bounded by the server whatever the caller asks.
  query.max_bytes = request->max_bytes() == 0 ? limits_.max_history_page_bytes
                                              : std::min<std::size_t>(request->max_bytes(), limits_.max_history_page_bytes);
  try {
    auto page = store_.history(query);
    response->mutable_messages()->Reserve(static_cast<int>(page.messages.size()));
    for (const auto& message : page.messages) to_proto(message, *response->add_messages());
    response->set_has_more(page.has_more);
  } catch (const store::StoreError& e) {
    log_->error("history of a room could not be read: {}", e.what());
    return finish_now(context, {grpc::StatusCode::UNAVAILABLE, "history could not be read"});
  }
  return finish_now(context, grpc::Status::OK);
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetRoomSenders(grpc::CallbackServerContext* context,
                                                      const GetRoomSendersRequest* request,
                                                      GetRoomSendersResponse* response) {
  const auto refused = check_room_call(*context, "GetRoomSenders", request->room_id(), request->limit(), kMaxSendersLimit);
  if (!refused.ok()) return finish_now(context, refused);
  const std::size_t limit = request->limit() == 0 ? kDefaultSendersLimit : request->limit();
  try {
    auto senders = store_.room_senders(request->room_id(), limit + 1);  // one more tells has_more
    response->set_has_more(senders.size() > limit);
    if (senders.size() > limit) senders.resize(limit);
    for (auto& sender : senders) response->add_sender_ids(std::move(sender));
  } catch (const store::StoreError& e) {
    log_->error("a room's senders could not be read: {}", e.what());
    return finish_now(context, {grpc::StatusCode::UNAVAILABLE, "the room's senders could not be read"});
  }
  return finish_now(context, grpc::Status::OK);
}

StreamReactor* ChatServiceImpl::Chat(grpc::CallbackServerContext* context) {
  const auto caller = check_caller(*context, "Chat");
  if (!caller.ok()) return new RefusedStream(caller.status);
  auto session = std::make_shared<StreamSession>(
      next_session_id_++, limits_.stream_queue_limit, limits_.max_pending_per_stream,
      StreamCaller(caller.role, limits_.user_stream_messages_per_second, limits_.user_stream_message_burst),
      chat::batches::asked(*context));
  rooms_.add_session(session);
  open_streams_.add(1);
  log_->debug("stream {} opened", session->id());
  return new ChatStreamReactor(*this, context, std::move(session));
}

void ChatServiceImpl::stream_ended(const SessionPtr& session) {
  open_streams_.add(-1);
  log_->debug("stream {} closed", session->id());
  // Last: when the last stream leaves the registry, the plugin's stop may go
  // on to destroy this service, its gauge and its logger, so nothing of
  // them may be touched after remove_session.
  rooms_.remove_session(session);
}

void ChatServiceImpl::refuse(const SessionPtr& session, Error error) {
  session->send(encode(error_event(std::move(error))));
}

void ChatServiceImpl::handle_frame(const SessionPtr& session, const grpc::ByteBuffer& bytes) {
  ChatStream frame;
  grpc::ByteBuffer copy(bytes);  // Deserialize consumes its input
  if (!grpc::SerializationTraits<ChatStream>::Deserialize(&copy, &frame).ok()) {
    return refuse(session, make_error(Error::INVALID_FRAME,
                                      "frame is not a valid ChatStream (strings must be UTF-8)", ""));
  }
  handle_frame(session, frame);
}

bool ChatServiceImpl::take_rate(const SessionPtr& session, const ChatStream& frame) {
  auto& caller = session->caller();
  if (caller.role == CallerRole::Bridge || caller.rate.take()) {
    caller.strikes = 0;
    return true;
  }
  auto error = make_error(Error::RATE_LIMITED,
                          "not sent: more than " +
                              std::to_string(static_cast<long long>(limits_.user_stream_messages_per_second)) +
                              " frames a second",
                          payload_name(frame));
  if (frame.has_chat_message()) {
    const ChatMessage& message = frame.chat_message();
    error = about(std::move(error), "chat_message", message.room_id(), message.sender_id());
    error.set_id(message.id());
  }
  refuse(session, std::move(error));
  if (++caller.strikes >= limits_.user_stream_rate_limit_strikes) {
    log_->info("stream {} (user '{}'): ended for sending too fast ({} frames refused in a row)", session->id(),
               caller.user, caller.strikes);
    session->finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too many frames: slow down"));
  }
  return false;
}

std::optional<Error> ChatServiceImpl::may_speak_as(const SessionPtr& session, const std::string& user) {
  auto& caller = session->caller();
  if (caller.role == CallerRole::Bridge) return std::nullopt;
  if (caller.user.empty()) caller.user = user;  // the stream's one user from now on
  if (user == caller.user) return std::nullopt;
  return make_error(Error::NOT_ALLOWED,
                    "this stream speaks for '" + caller.user +
                        "' only: one user per stream for a caller without the service token",
                    "");
}

std::optional<Error> ChatServiceImpl::may_join(const SessionPtr& session) {
  const bool bridge = session->caller().role == CallerRole::Bridge;
  const std::size_t limit = bridge ? limits_.max_memberships_per_stream : limits_.user_stream_max_rooms;
  if (rooms_.memberships(session) < limit) return std::nullopt;
  return make_error(Error::NOT_ALLOWED,
                    bridge ? "a stream may hold at most " + std::to_string(limit) + " memberships"
                           : "a stream may be in at most " + std::to_string(limit) + " rooms",
                    "");
}

void ChatServiceImpl::handle_frame(const SessionPtr& session, const ChatStream& frame) {
  if (frame.has_batch() && session->takes_batches()) {
    // Each frame of it as if it had come alone, in order.
    for (const ChatStream& inner : frame.batch().frames()) {
      if (inner.has_batch()) {
        refuse(session, make_error(Error::UNKNOWN_PAYLOAD, "a batch holds no batch", "batch"));
        continue;
      }
      handle_frame(session, inner);
    }
    return;
  }
  if (!take_rate(session, frame)) return;
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage: {
      const ChatMessage& message = frame.chat_message();
      if (auto error = check_chat_message(message, limits_)) return refuse(session, std::move(*error));
      // Refusals name the message, so its sender can tell which one failed.
      const auto named = [&message](Error error) {
        error.set_id(message.id());
        return about(std::move(error), "chat_message", message.room_id(), message.sender_id());
      };
      if (auto error = may_speak_as(session, message.sender_id())) return refuse(session, named(std::move(*error)));
      if (draining_) {
        return refuse(session, named(make_error(Error::UNAVAILABLE, "not sent: the chat service is stopping")));
      }
      // Messages-only clients never join: sending into a room joins it.
      if (!rooms_.is_member(session, message.room_id(), message.sender_id())) {
        if (auto error = may_join(session)) return refuse(session, named(std::move(*error)));
        rooms_.join_implicitly(session, message.room_id(), message.sender_id());
      }
      if (!committer_.submit(session, message)) {
        refuse(session, named(make_error(Error::UNAVAILABLE, "not sent: the chat service is stopping")));
      }
      return;
    }
    case ChatStream::kJoin: {
      const Join& join = frame.join();
      auto error = check_join(join);
      if (!error) error = may_speak_as(session, join.user_id());
      if (!error && !rooms_.is_member(session, join.room_id(), join.user_id())) error = may_join(session);
      if (error) return refuse(session, about(std::move(*error), "join", join.room_id(), join.user_id()));
      std::optional<std::uint64_t> since;
      if (join.has_since()) since = join.since();
      try {
        rooms_.join(session, join.room_id(), join.user_id(), since);
      } catch (const store::StoreError& e) {
        log_->error("join could not read the store: {}", e.what());
        refuse(session, about(make_error(Error::STORE_FAILED, "the room's history could not be read"), "join",
                              join.room_id(), join.user_id()));
      }
      return;
    }
    case ChatStream::kLeave: {
      const Leave& leave = frame.leave();
      auto error = check_leave(leave);
      if (!error) error = may_speak_as(session, leave.user_id());
      if (error) return refuse(session, about(std::move(*error), "leave", leave.room_id(), leave.user_id()));
      if (!rooms_.leave(session, leave.room_id(), leave.user_id())) {
        refuse(session, about(make_error(Error::NOT_MEMBER, "user is not in that room on this stream"), "leave",
                              leave.room_id(), leave.user_id()));
      }
      return;
    }
    case ChatStream::kTyping: {
      const Typing& typing = frame.typing();
      auto error = check_typing(typing);
      if (!error) error = may_speak_as(session, typing.user_id());
      if (!error && !rooms_.is_member(session, typing.room_id(), typing.user_id())) {
        error = make_error(Error::NOT_MEMBER, "join the room before saying you are typing in it", "typing");
      }
      if (error) return refuse(session, about(std::move(*error), "typing", typing.room_id(), typing.user_id()));
      rooms_.typing(typing.room_id(), typing.user_id(), typing.stopped());
      return;
    }
    case ChatStream::kWatch: {
      const Watch& watch = frame.watch();
      auto error = check_id(watch.room_id(), "room_id", "watch");
      if (!error && session->caller().role != CallerRole::Bridge) {
        error = make_error(Error::NOT_ALLOWED, "only a bridge (a caller with the service token) may watch a room",
                           "watch");
      }
      if (!error && !rooms_.is_watching(session, watch.room_id())) error = may_join(session);
      if (error) return refuse(session, about(std::move(*error), "watch", watch.room_id(), ""));
      try {
        rooms_.watch(session, watch.room_id(), watch.token());
      } catch (const store::StoreError& e) {
        log_->error("watch could not read the store: {}", e.what());
        refuse(session,
               about(make_error(Error::STORE_FAILED, "the room's history could not be read"), "watch", watch.room_id(), ""));
      }
      return;
    }
    case ChatStream::kUnwatch: {
      const Unwatch& unwatch = frame.unwatch();
      auto error = check_id(unwatch.room_id(), "room_id", "unwatch");
      if (!error && !rooms_.unwatch(session, unwatch.room_id())) {
        error = make_error(Error::NOT_MEMBER, "the stream does not watch that room", "unwatch");
      }
      if (error) return refuse(session, about(std::move(*error), "unwatch", unwatch.room_id(), ""));
      return;
    }
    default: {
      const auto name = payload_name(frame);
      refuse(session, make_error(Error::UNKNOWN_PAYLOAD,
                                 name.empty() ? "frame has no payload"
                                              : "the server does not take " + std::string(name) + " frames",
                                 name));
      return;
    }
  }
}

}  // namespace chat::service
