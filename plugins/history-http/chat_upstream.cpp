#include "chat_upstream.hpp"

#include "tls/grpc_credentials.hpp"
#include "tsan/annotations.hpp"

#include <google/protobuf/arena.h>

namespace chat::history_http {
namespace {

constexpr const char* kChatServiceName = "chat.ChatService";

// Reconnect quickly after the chat service comes back: gRPC's default backoff
// grows to two minutes, far too long for a health check to flip back.
constexpr int kInitialReconnectBackoffMs = 250;
constexpr int kMaxReconnectBackoffMs = 2000;
// How long one connection attempt may take (gRPC calls it the minimum
// connect timeout, set through the "min reconnect backoff" argument). Calls
// waiting for it still end at their own deadline.
constexpr int kConnectTimeoutMs = 5000;
// A history page is at most 1000 messages of up to [grpc-chat]
// max_content_bytes each: gRPC's default 4 MiB is not always enough.
constexpr int kMaxReceiveBytes = 64 << 20;

google::protobuf::ArenaOptions history_arena_options() {
  google::protobuf::ArenaOptions options;
  options.start_block_size = 64 << 10;  // a page of 100 messages of 100 bytes fits
  return options;
}

struct HistoryCall {
  grpc::ClientContext context;
  chat::GetChatHistoryRequest request;
  // The page is parsed into an arena: its hundreds of messages and strings
  // take a few blocks, freed at once with the call, not one by one.
  google::protobuf::Arena arena{history_arena_options()};
  chat::GetChatHistoryResponse* response = google::protobuf::Arena::CreateMessage<chat::GetChatHistoryResponse>(&arena);
  ChatUpstream::HistoryDone done;
};

struct HealthCall {
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  ChatUpstream::HealthDone done;
};

const grpc::Status kStopping(grpc::StatusCode::CANCELLED, "history-http is stopping");

}  // namespace

ChatUpstream::ChatUpstream(const std::string& target, const chat::tls::ChannelSecurity& security,
                           std::chrono::milliseconds deadline)
    : target_(target), deadline_(deadline) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kConnectTimeoutMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  channel_ = chat::tls::make_chat_channel(target_, security, args);
  chat_ = chat::ChatService::NewStub(channel_);
  health_ = grpc::health::v1::Health::NewStub(channel_);
}

ChatUpstream::~ChatUpstream() { shutdown(); }

template <typename Call>
bool ChatUpstream::begin(const std::shared_ptr<Call>& call) {
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  std::lock_guard lock(mutex_);
  if (closing_) return false;
  in_flight_.insert(&call->context);
  return true;
}

template <typename Call>
void ChatUpstream::end(std::shared_ptr<Call> call) {
  {
    std::lock_guard lock(mutex_);
    in_flight_.erase(&call->context);
  }
  // Gone before shutdown() can return: nothing of a call outlives it.
  call.reset();
  std::lock_guard lock(mutex_);
  // Notified under the lock: once it is released, shutdown() may return and
  // this object go away; nothing below touches it.
  if (in_flight_.empty()) idle_.notify_all();
}

void ChatUpstream::get_history(const chat::GetChatHistoryRequest& request, HistoryDone done) {
  auto call = std::make_shared<HistoryCall>();
  call->request = request;
  call->done = std::move(done);
  if (!begin(call)) {
    call->done(kStopping, chat::GetChatHistoryResponse::default_instance());
    return;
  }
  // The completion runs on a gRPC thread: see tsan/annotations.hpp.
  tsan::handoff(call.get());
  chat_->async()->GetChatHistory(&call->context, &call->request, call->response,
                                 [this, call](grpc::Status status) mutable {
                                   tsan::received(call.get());
                                   call->done(status, *call->response);
                                   call->done = nullptr;
                                   end(std::move(call));
                                 });
}

void ChatUpstream::check_health(HealthDone done) {
  auto call = std::make_shared<HealthCall>();
  call->request.set_service(kChatServiceName);
  call->done = std::move(done);
  if (!begin(call)) {
    call->done(kStopping, false);
    return;
  }
  tsan::handoff(call.get());
  health_->async()->Check(&call->context, &call->request, &call->response,
                          [this, call](grpc::Status status) mutable {
                            tsan::received(call.get());
                            call->done(status, status.ok() && call->response.status() ==
                                                                  grpc::health::v1::HealthCheckResponse::SERVING);
                            call->done = nullptr;
                            end(std::move(call));
                          });
}

void ChatUpstream::shutdown() {
  std::unique_lock lock(mutex_);
  closing_ = true;
  for (auto* context : in_flight_) context->TryCancel();
  idle_.wait(lock, [this] { return in_flight_.empty(); });
}

}  // namespace chat::history_http
