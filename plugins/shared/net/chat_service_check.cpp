#include "net/chat_service_check.hpp"

#include "health.grpc.pb.h"

#include <grpcpp/generic/generic_stub.h>

#include "tsan/annotations.hpp"

namespace chat::net {
namespace {

const std::string& check_method() {
  static const std::string name = "/" + std::string(grpc::health::v1::Health::service_full_name()) + "/Check";
  return name;
}

// The request, the same for every check: serialized once, its bytes shared.
const grpc::ByteBuffer& check_request() {
  static const grpc::ByteBuffer bytes = [] {
    grpc::health::v1::HealthCheckRequest request;
    request.set_service("chat.ChatService");
    grpc::ByteBuffer serialized;
    bool own_buffer = false;
    static_cast<void>(grpc::SerializationTraits<grpc::health::v1::HealthCheckRequest>::Serialize(
        request, &serialized, &own_buffer));
    return serialized;
  }();
  return bytes;
}

}  // namespace

std::shared_ptr<ChatServiceCheck> ChatServiceCheck::start(const std::shared_ptr<grpc::Channel>& channel,
                                                          std::chrono::milliseconds deadline, Done done) {
  std::shared_ptr<ChatServiceCheck> check(new ChatServiceCheck(std::move(done)));
  check->request_ = check_request();
  check->context_.set_deadline(std::chrono::system_clock::now() + deadline);
  // The check holds itself until its answer is read. The callback carries
  // a plain pointer: std::function keeps it in place, where a shared_ptr
  // would be copied to the heap inside gRPC, out of ThreadSanitizer's sight.
  check->self_ = check;
  ChatServiceCheck* raw = check.get();
  grpc::GenericStub stub(channel);
  tsan::handoff(raw);
  stub.UnaryCall(&raw->context_, check_method(), grpc::StubOptions{}, &raw->request_, &raw->response_,
                 [raw](const grpc::Status& status) {
                   tsan::received(raw);
                   const std::shared_ptr<ChatServiceCheck> self = std::move(raw->self_);
                   self->finished(status);
                 });
  return check;
}

void ChatServiceCheck::finished(const grpc::Status& status) {
  grpc::health::v1::HealthCheckResponse answer;
  const bool parsed =
      status.ok() &&
      grpc::SerializationTraits<grpc::health::v1::HealthCheckResponse>::Deserialize(&response_, &answer).ok();
  std::string why;
  if (!status.ok()) {
    why = status.error_message().empty() ? "status " + std::to_string(status.error_code()) : status.error_message();
  } else if (!parsed) {
    why = "its health answer does not parse";
  } else if (answer.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    why = grpc::health::v1::HealthCheckResponse::ServingStatus_Name(answer.status());
  }
  const Done done = std::move(done_);
  done(why.empty(), why);
}

}  // namespace chat::net
