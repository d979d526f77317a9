// chat.ChatService on gRPC's callback API: GetUser, GetChatHistory, and one
// ChatStreamReactor per Chat call.
#pragma once

#include "chat.grpc.pb.h"
#include "message_committer.hpp"
#include "room_registry.hpp"
#include "service_limits.hpp"

#include <chathost/plugin.hpp>

#include <google/protobuf/arena.h>
#include <grpcpp/support/message_allocator.h>

#include <atomic>

namespace chat::service {

// GetUser and GetChatHistory take typed messages; Chat takes raw bytes so
// that a frame which does not parse (invalid UTF-8, say) gets an error event
// instead of ending the stream, and outgoing events are serialized once.
using ChatServiceBase = ChatService::WithCallbackMethod_GetUser<
    ChatService::WithCallbackMethod_GetChatHistory<ChatService::WithRawCallbackMethod_Chat<ChatService::Service>>>;

// A history page's request and response in one arena: its hundreds of
// messages and their strings are allocated in a few blocks and freed at
// once, instead of one by one.
class HistoryArenaAllocator final : public grpc::MessageAllocator<GetChatHistoryRequest, GetChatHistoryResponse> {
 public:
  grpc::MessageHolder<GetChatHistoryRequest, GetChatHistoryResponse>* AllocateMessages() override;
};

class ChatServiceImpl final : public ChatServiceBase {
 public:
  ChatServiceImpl(store::HistoryStore& store, RoomRegistry& rooms, MessageCommitter& committer,
              const ServiceLimits& limits, chathost::AdminIdentity admin, std::shared_ptr<spdlog::logger> log,
              chathost::Gauge& open_streams);

  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context, const GetUserRequest* request,
                                    GetUserResponse* response) override;
  grpc::ServerUnaryReactor* GetChatHistory(grpc::CallbackServerContext* context,
                                           const GetChatHistoryRequest* request,
                                           GetChatHistoryResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Chat(grpc::CallbackServerContext* context) override;

  // Handles one frame a stream sent; used by ChatStreamReactor.
  void handle_frame(const SessionPtr& session, const grpc::ByteBuffer& bytes);
  void handle_frame(const SessionPtr& session, const ChatStream& frame);
  void stream_ended(const SessionPtr& session);

  // After this, chat messages are refused with UNAVAILABLE.
  void begin_drain() { draining_ = true; }

 private:
  void refuse(const SessionPtr& session, Error error);

  HistoryArenaAllocator history_allocator_;
  store::HistoryStore& store_;
  RoomRegistry& rooms_;
  MessageCommitter& committer_;
  const ServiceLimits limits_;
  const chathost::AdminIdentity admin_;
  std::shared_ptr<spdlog::logger> log_;
  chathost::Gauge& open_streams_;  // chat_grpc_streams
  std::atomic<std::uint64_t> next_session_id_{1};
  std::atomic<bool> draining_{false};
};

}  // namespace chat::service
