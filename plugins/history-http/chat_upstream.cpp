#include "chat_upstream.hpp"

#include "service_auth/service_auth_config.hpp"

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

std::shared_ptr<grpc::Channel> make_channel(const std::string& target, const chat::tls::ChannelSecurity& security) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kInitialReconnectBackoffMs);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, kConnectTimeoutMs);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
  return chat::tls::make_chat_channel(target, security, args);
}

const std::string& get_history_method() {
  static const std::string name = "/" + std::string(chat::ChatService::service_full_name()) + "/GetChatHistory";
  return name;
}

const std::string& health_check_method() {
  static const std::string name = "/" + std::string(grpc::health::v1::Health::service_full_name()) + "/Check";
  return name;
}

template <typename Message>
bool parse(grpc::ByteBuffer& bytes, Message* message) {
  return grpc::SerializationTraits<Message>::Deserialize(&bytes, message).ok();
}

const grpc::Status kStopping(grpc::StatusCode::CANCELLED, "history-http is stopping");

}  // namespace

// One unary call: a reactor that gets the answer's bytes and deletes itself
// once `finish` has run.
class ChatUpstream::Call final : public grpc::ClientUnaryReactor {
 public:
  // Runs once, with the answer's bytes (empty unless the status is OK).
  using Finish = std::function<void(const grpc::Status&, grpc::ByteBuffer&)>;

  Call(ChatUpstream& owner, Finish finish) : owner_(owner), finish_(std::move(finish)) {}

  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;

  void OnDone(const grpc::Status& status) override {
    tsan::received(this);
    finish_(status, response);
    ChatUpstream& owner = owner_;
    grpc::ClientContext* key = &context;
    // Gone before shutdown() can return: nothing of a call outlives it.
    delete this;
    owner.end(key);
  }

  // A call that was never started ends here instead.
  void refuse(const grpc::Status& status) {
    grpc::ByteBuffer none;
    finish_(status, none);
    delete this;
  }

 private:
  ChatUpstream& owner_;
  Finish finish_;
};

ChatUpstream::ChatUpstream(const std::string& target, const chat::tls::ChannelSecurity& security,
                           std::chrono::milliseconds deadline)
    : target_(target),
      deadline_(deadline),
      service_token_(security.service_token),
      channel_(make_channel(target_, security)),
      stub_(channel_) {}

ChatUpstream::~ChatUpstream() { shutdown(); }

void ChatUpstream::start(Call* call, const std::string& method, const google::protobuf::MessageLite& request) {
  bool own_buffer = false;
  if (!grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(request, &call->request, &own_buffer).ok()) {
    return call->refuse(grpc::Status(grpc::StatusCode::INTERNAL, "the request could not be serialized"));
  }
  call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  chat::service_auth::present(call->context, service_token_);
  bool closing = false;
  {
    std::lock_guard lock(mutex_);
    closing = closing_;
    if (!closing) in_flight_.insert(&call->context);
  }
  if (closing) return call->refuse(kStopping);
  // OnDone runs on a gRPC thread: see tsan/annotations.hpp.
  tsan::handoff(call);
  stub_.PrepareUnaryCall(&call->context, method, grpc::StubOptions{}, &call->request, &call->response, call);
  call->StartCall();
}

void ChatUpstream::end(grpc::ClientContext* context) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(context);
  // Notified under the lock: once it is released, shutdown() may return and
  // this object go away; nothing below touches it.
  if (in_flight_.empty()) idle_.notify_all();
}

void ChatUpstream::get_history(const chat::GetChatHistoryRequest& request, HistoryDone done) {
  auto* call = new Call(*this, [done = std::move(done)](const grpc::Status& status, grpc::ByteBuffer& bytes) {
    if (!status.ok()) return done(status, chat::GetChatHistoryResponse::default_instance());
    // The page is parsed into an arena: its hundreds of messages and
    // strings take a few blocks, freed at once, not one by one.
    google::protobuf::Arena arena{history_arena_options()};
    auto* page = google::protobuf::Arena::CreateMessage<chat::GetChatHistoryResponse>(&arena);
    if (!parse(bytes, page)) {
      return done(grpc::Status(grpc::StatusCode::INTERNAL, "the chat service's answer is not a GetChatHistoryResponse"),
                  chat::GetChatHistoryResponse::default_instance());
    }
    done(status, *page);
  });
  start(call, get_history_method(), request);
}

void ChatUpstream::check_health(HealthDone done) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(kChatServiceName);
  auto* call = new Call(*this, [done = std::move(done)](const grpc::Status& status, grpc::ByteBuffer& bytes) {
    grpc::health::v1::HealthCheckResponse answer;
    const bool serving =
        status.ok() && parse(bytes, &answer) && answer.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    done(status, serving);
  });
  start(call, health_check_method(), request);
}

void ChatUpstream::shutdown() {
  std::unique_lock lock(mutex_);
  closing_ = true;
  for (auto* context : in_flight_) context->TryCancel();
  idle_.wait(lock, [this] { return in_flight_.empty(); });
}

}  // namespace chat::history_http
