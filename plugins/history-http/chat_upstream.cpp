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
// How often each chat node is asked whether it serves, when there are several.
constexpr std::chrono::milliseconds kNodeHealthPeriod{1000};

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

const std::string& get_senders_method() {
  static const std::string name = "/" + std::string(chat::ChatService::service_full_name()) + "/GetRoomSenders";
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
// once `finish` has run. A call a node could not take (UNAVAILABLE: down,
// draining) is made again on the next node, until each was asked once.
class ChatUpstream::Call final : public grpc::ClientUnaryReactor {
 public:
  // Runs once, with the answer's bytes (empty unless the status is OK).
  using Finish = std::function<void(const grpc::Status&, grpc::ByteBuffer&)>;

  Call(ChatUpstream& owner, const std::string& method, Finish finish)
      : owner_(owner), method_(method), finish_(std::move(finish)) {}

  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
  std::chrono::system_clock::time_point deadline;
  std::size_t node = 0;
  std::size_t tries_left = 0;  // other nodes still to ask
  const std::string& method() const { return method_; }

  void OnDone(const grpc::Status& status) override {
    tsan::received(this);
    ChatUpstream& owner = owner_;
    grpc::ClientContext* key = &context;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE && tries_left > 0) {
      auto* next = new Call(owner, method_, std::move(finish_));
      next->request = request;  // shares the bytes
      next->deadline = deadline;
      next->node = (node + 1) % owner.stubs_.size();
      next->tries_left = tries_left - 1;
      owner.node_failed(node, next->node);
      // Started before this call ends: shutdown() cannot slip in between.
      owner.launch(next);
    } else {
      finish_(status, response);
    }
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
  const std::string& method_;
  Finish finish_;
};

ChatUpstream::ChatUpstream(std::vector<std::string> targets, const chat::tls::ChannelSecurity& security,
                           std::chrono::milliseconds deadline, std::shared_ptr<spdlog::logger> log)
    : targets_(std::move(targets)), deadline_(deadline), service_token_(security.service_token) {
  for (const auto& target : targets_) {
    channels_.push_back(make_channel(target, security));
    stubs_.push_back(std::make_unique<grpc::GenericStub>(channels_.back()));
  }
  if (targets_.size() > 1) {
    health_ = std::make_unique<chat::net::ChatNodeHealth>(channels_, targets_, kNodeHealthPeriod, std::move(log),
                                                          [](std::size_t, bool) {});
    health_->start();
  }
}

ChatUpstream::~ChatUpstream() { shutdown(); }

std::size_t ChatUpstream::preferred_node() const {
  const std::size_t node = preferred_.load(std::memory_order_relaxed);
  return health_ ? health_->pick(node) : node;
}

std::shared_ptr<grpc::Channel> ChatUpstream::preferred_channel() const { return channels_[preferred_node()]; }

void ChatUpstream::start(Call* call, const google::protobuf::MessageLite& request) {
  bool own_buffer = false;
  if (!grpc::SerializationTraits<google::protobuf::MessageLite>::Serialize(request, &call->request, &own_buffer).ok()) {
    return call->refuse(grpc::Status(grpc::StatusCode::INTERNAL, "the request could not be serialized"));
  }
  call->deadline = std::chrono::system_clock::now() + deadline_;
  call->node = preferred_node();
  call->tries_left = stubs_.size() - 1;
  launch(call);
}

void ChatUpstream::launch(Call* call) {
  call->context.set_deadline(call->deadline);
  chat::service_auth::present(call->context, service_token_);
  bool closing = false;
  {
    std::lock_guard lock(mutex_);
    closing = closing_;
    if (!closing) in_flight_.insert(&call->context);
  }
  if (closing) return call->refuse(kStopping);
  // What is read of the call is read before it is handed off: once it is,
  // OnDone may run on a gRPC thread and delete it (see tsan/annotations.hpp).
  grpc::GenericStub& stub = *stubs_[call->node];
  const std::string& method = call->method();
  tsan::handoff(call);
  stub.PrepareUnaryCall(&call->context, method, grpc::StubOptions{}, &call->request, &call->response, call);
  call->StartCall();
}

void ChatUpstream::node_failed(std::size_t failed, std::size_t next) {
  // Later calls start at the node that is next, unless another call
  // already moved them on.
  preferred_.compare_exchange_strong(failed, next, std::memory_order_relaxed);
}

void ChatUpstream::end(grpc::ClientContext* context) {
  std::lock_guard lock(mutex_);
  in_flight_.erase(context);
  // Notified under the lock: once it is released, shutdown() may return and
  // this object go away; nothing below touches it.
  if (in_flight_.empty()) idle_.notify_all();
}

void ChatUpstream::get_history(const chat::GetChatHistoryRequest& request, HistoryDone done) {
  auto* call = new Call(*this, get_history_method(), [done = std::move(done)](const grpc::Status& status,
                                                                             grpc::ByteBuffer& bytes) {
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
  start(call, request);
}

void ChatUpstream::get_senders(const chat::GetRoomSendersRequest& request, SendersDone done) {
  auto* call = new Call(*this, get_senders_method(), [done = std::move(done)](const grpc::Status& status,
                                                                             grpc::ByteBuffer& bytes) {
    if (!status.ok()) return done(status, chat::GetRoomSendersResponse::default_instance());
    chat::GetRoomSendersResponse answer;
    if (!parse(bytes, &answer)) {
      return done(grpc::Status(grpc::StatusCode::INTERNAL, "the chat service's answer is not a GetRoomSendersResponse"),
                  chat::GetRoomSendersResponse::default_instance());
    }
    done(status, answer);
  });
  start(call, request);
}

void ChatUpstream::check_health(HealthDone done) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(kChatServiceName);
  auto* call = new Call(*this, health_check_method(), [done = std::move(done)](const grpc::Status& status,
                                                                              grpc::ByteBuffer& bytes) {
    grpc::health::v1::HealthCheckResponse answer;
    const bool serving =
        status.ok() && parse(bytes, &answer) && answer.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    done(status, serving);
  });
  start(call, request);
}

void ChatUpstream::shutdown() {
  if (health_) health_->stop();
  std::unique_lock lock(mutex_);
  closing_ = true;
  for (auto* context : in_flight_) context->TryCancel();
  idle_.wait(lock, [this] { return in_flight_.empty(); });
}

}  // namespace chat::history_http
