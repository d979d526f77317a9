// chat.ChatService on gRPC's callback API: GetUser, GetChatHistory, and one
// ChatStreamReactor per Chat call.
#pragma once

#include "caller_policy.hpp"
#include "chat.grpc.pb.h"
#include "message_committer.hpp"
#include "room_registry.hpp"
#include "service_limits.hpp"

#include <chathost/plugin.hpp>

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <atomic>

namespace chat::service {

// The administrator: a user GetUser always knows ([grpc-chat] admin_*).
struct AdminIdentity {
  std::string id;
  std::string name;
  std::string email;
};

// GetUser and GetChatHistory take typed messages; Chat takes raw bytes so
// that a frame which does not parse (invalid UTF-8, say) gets an error event
// instead of ending the stream, and outgoing events are serialized once.
using ChatServiceBase = ChatService::WithCallbackMethod_GetUser<ChatService::WithCallbackMethod_GetChatHistory<
    ChatService::WithCallbackMethod_GetRoomSenders<ChatService::WithRawCallbackMethod_Chat<ChatService::Service>>>>;

// A history page's request and response in one arena: its hundreds of
// messages and their strings are allocated in a few blocks and freed at
// once, instead of one by one.
class HistoryArenaAllocator final : public grpc::MessageAllocator<GetChatHistoryRequest, GetChatHistoryResponse> {
 public:
  grpc::MessageHolder<GetChatHistoryRequest, GetChatHistoryResponse>* AllocateMessages() override;
};

class ChatServiceImpl final : public ChatServiceBase {
 public:
  // Every call is checked against `callers` first: one refused ends with
  // UNAUTHENTICATED and counts in `refused_calls`.
  ChatServiceImpl(store::HistoryStore& store, RoomRegistry& rooms, MessageCommitter& committer,
                  const ServiceLimits& limits, const CallerPolicy& callers, AdminIdentity admin,
                  std::shared_ptr<spdlog::logger> log, chathost::Gauge& open_streams,
                  chathost::Counter& refused_calls);

  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context, const GetUserRequest* request,
                                    GetUserResponse* response) override;
  grpc::ServerUnaryReactor* GetChatHistory(grpc::CallbackServerContext* context,
                                           const GetChatHistoryRequest* request,
                                           GetChatHistoryResponse* response) override;
  grpc::ServerUnaryReactor* GetRoomSenders(grpc::CallbackServerContext* context,
                                           const GetRoomSendersRequest* request,
                                           GetRoomSendersResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Chat(grpc::CallbackServerContext* context) override;

  // Handles one frame a stream sent; used by ChatStreamReactor.
  void handle_frame(const SessionPtr& session, const grpc::ByteBuffer& bytes);
  void handle_frame(const SessionPtr& session, const ChatStream& frame);
  void stream_ended(const SessionPtr& session);

  // After this, chat messages are refused with UNAVAILABLE.
  void begin_drain() { draining_ = true; }

 private:
  void refuse(const SessionPtr& session, Error error);
  // A call's caller, checked; logs and counts a refusal.
  CallerCheck check_caller(const grpc::CallbackServerContext& context, const char* method);
  // A call that reads one room: its caller may make it, and its room and
  // limit are sound. OK, or the status that refuses it.
  grpc::Status check_room_call(const grpc::CallbackServerContext& context, const char* method,
                               const std::string& room_id, std::uint32_t limit, std::uint32_t max_limit);
  // A user stream (not a bridge's): its frames at a WebSocket connection's
  // rate; false when this one is refused (answered, and the stream ended
  // after too many in a row).
  bool take_rate(const SessionPtr& session, const ChatStream& frame);
  // Whether the stream may speak as `user` (a user stream names one user
  // only) and join one more room; the refusal otherwise.
  std::optional<Error> may_speak_as(const SessionPtr& session, const std::string& user);
  std::optional<Error> may_join(const SessionPtr& session);

  HistoryArenaAllocator history_allocator_;
  store::HistoryStore& store_;
  RoomRegistry& rooms_;
  MessageCommitter& committer_;
  const ServiceLimits limits_;
  const CallerPolicy& callers_;
  const AdminIdentity admin_;
  std::shared_ptr<spdlog::logger> log_;
  chathost::Gauge& open_streams_;     // chat_grpc_streams
  chathost::Counter& refused_calls_;  // chat_grpc_unauthenticated_calls_total
  std::atomic<std::int64_t> last_refusal_logged_{0};  // steady clock, seconds
  std::atomic<std::uint64_t> next_session_id_{1};
  std::atomic<bool> draining_{false};
};

}  // namespace chat::service
