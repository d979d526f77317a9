#include "chat_service.hpp"

#include "frame_validation.hpp"
#include "tsan/annotations.hpp"

namespace chat::service {
namespace {

constexpr std::uint32_t kDefaultHistoryLimit = 50;
constexpr std::uint32_t kMaxHistoryLimit = 1000;

// One Chat call. Reads frames one at a time and hands them to the service;
// everything outgoing goes through its StreamSession (one write in flight).
// Every operation on it is started after tsan::handoff(reactor), and every
// reaction begins with tsan::received(this): see tsan/annotations.hpp.
class ChatStreamReactor final : public StreamReactor {
 public:
  ChatStreamReactor(ChatServiceImpl& service, grpc::CallbackServerContext* context, SessionPtr session)
      : service_(service), session_(std::move(session)) {
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
                         const ServiceLimits& limits, chathost::AdminIdentity admin,
                         std::shared_ptr<spdlog::logger> log, chathost::Gauge& open_streams)
    : store_(store),
      rooms_(rooms),
      committer_(committer),
      limits_(limits),
      admin_(std::move(admin)),
      log_(std::move(log)),
      open_streams_(open_streams) {
  SetMessageAllocatorFor_GetChatHistory(&history_allocator_);
}

grpc::ServerUnaryReactor* ChatServiceImpl::GetUser(grpc::CallbackServerContext* context, const GetUserRequest* request,
                                               GetUserResponse* response) {
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

grpc::ServerUnaryReactor* ChatServiceImpl::GetChatHistory(grpc::CallbackServerContext* context,
                                                      const GetChatHistoryRequest* request,
                                                      GetChatHistoryResponse* response) {
  if (request->room_id().empty()) {
    return finish_now(context, {grpc::StatusCode::INVALID_ARGUMENT, "room_id is required"});
  }
  if (request->limit() > kMaxHistoryLimit) {
    return finish_now(context, {grpc::StatusCode::INVALID_ARGUMENT,
                                "limit must be at most " + std::to_string(kMaxHistoryLimit)});
  }
  store::HistoryQuery query;
  query.room_id = request->room_id();
  query.sender_id = request->sender_id();
  query.limit = request->limit() == 0 ? kDefaultHistoryLimit : request->limit();
  query.before = request->before();
  if (request->has_after()) query.after = request->after();
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

StreamReactor* ChatServiceImpl::Chat(grpc::CallbackServerContext* context) {
  auto session = std::make_shared<StreamSession>(next_session_id_++, limits_.stream_queue_limit,
                                                 limits_.max_pending_per_stream);
  rooms_.add_session(session);
  open_streams_.add(1);
  log_->debug("stream {} opened", session->id());
  return new ChatStreamReactor(*this, context, std::move(session));
}

void ChatServiceImpl::stream_ended(const SessionPtr& session) {
  open_streams_.add(-1);
  log_->debug("stream {} closed", session->id());
  // Last: when the last stream leaves the registry, the plugin's stop may go
  // on to destroy this service and its metrics (TSan saw the gauge and the
  // logger touched after remove_session, racing with their destruction).
  rooms_.remove_session(session);
}

void ChatServiceImpl::refuse(const SessionPtr& session, Error error) {
  ChatStream frame;
  *frame.mutable_error() = std::move(error);
  session->send(encode(frame));
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

void ChatServiceImpl::handle_frame(const SessionPtr& session, const ChatStream& frame) {
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage: {
      const ChatMessage& message = frame.chat_message();
      if (auto error = check_chat_message(message, limits_)) return refuse(session, std::move(*error));
      if (draining_) {
        auto error = make_error(Error::UNAVAILABLE, "not sent: the chat service is stopping", "chat_message");
        error.set_id(message.id());
        error.set_room_id(message.room_id());
        error.set_user_id(message.sender_id());
        return refuse(session, std::move(error));
      }
      // The exercise's clients never join: sending into a room joins it.
      if (!rooms_.is_member(session, message.room_id(), message.sender_id())) {
        rooms_.join_implicitly(session, message.room_id(), message.sender_id());
      }
      if (!committer_.submit(session, message)) {
        auto error = make_error(Error::UNAVAILABLE, "not sent: the chat service is stopping", "chat_message");
        error.set_id(message.id());
        error.set_room_id(message.room_id());
        error.set_user_id(message.sender_id());
        refuse(session, std::move(error));
      }
      return;
    }
    case ChatStream::kJoin: {
      const Join& join = frame.join();
      if (auto error = check_join(join, limits_)) {
        error->set_room_id(join.room_id());
        error->set_user_id(join.user_id());
        return refuse(session, std::move(*error));
      }
      std::optional<std::uint64_t> since;
      if (join.has_since()) since = join.since();
      try {
        rooms_.join(session, join.room_id(), join.user_id(), since);
      } catch (const store::StoreError& e) {
        log_->error("join could not read the store: {}", e.what());
        auto error = make_error(Error::STORE_FAILED, "the room's history could not be read", "join");
        error.set_room_id(join.room_id());
        error.set_user_id(join.user_id());
        refuse(session, std::move(error));
      }
      return;
    }
    case ChatStream::kLeave: {
      const Leave& leave = frame.leave();
      if (auto error = check_leave(leave, limits_)) return refuse(session, std::move(*error));
      if (!rooms_.leave(session, leave.room_id(), leave.user_id())) {
        auto error = make_error(Error::NOT_MEMBER, "user is not in that room on this stream", "leave");
        error.set_room_id(leave.room_id());
        error.set_user_id(leave.user_id());
        refuse(session, std::move(error));
      }
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
