#include "support/garbage_grpc_server.hpp"

#include "tsan/annotations.hpp"

#include <chrono>
#include <stdexcept>

namespace chathost::test {
namespace {

// A length-delimited field 1 that says 5 bytes follow, and then only 2 do:
// every protobuf parser refuses it as truncated.
constexpr char kGarbage[] = "\x0a\x05" "ab";

// Reads a message, answers it with garbage, and again, until the client is
// done sending; then finishes with OK. A Chat stream is answered at once,
// before it sends anything (as a chat service's first event would come).
// Annotated for ThreadSanitizer like the plugins' reactors
// (tsan/annotations.hpp).
class GarbageReactor final : public grpc::ServerGenericBidiReactor {
 public:
  GarbageReactor(std::atomic<int>& answered, bool answer_first) : answered_(answered) {
    grpc::Slice slice(kGarbage, sizeof kGarbage - 1);
    garbage_ = grpc::ByteBuffer(&slice, 1);
    if (answer_first) {
      ++answered_;
      chat::tsan::handoff(this);
      StartWrite(&garbage_);
    } else {
      read();
    }
  }

  void OnReadDone(bool ok) override {
    chat::tsan::received(this);
    if (!ok) return finish();
    ++answered_;
    chat::tsan::handoff(this);
    StartWrite(&garbage_);
  }
  void OnWriteDone(bool ok) override {
    chat::tsan::received(this);
    if (!ok) return finish();
    read();
  }
  void OnDone() override {
    chat::tsan::received(this);
    delete this;
  }

 private:
  void read() {
    chat::tsan::handoff(this);
    StartRead(&request_);
  }
  void finish() {
    chat::tsan::handoff(this);
    Finish(grpc::Status::OK);
  }

  std::atomic<int>& answered_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer garbage_;
};

}  // namespace

grpc::ServerGenericBidiReactor* GarbageGrpcServer::Service::CreateReactor(grpc::GenericCallbackServerContext* context) {
  return new GarbageReactor(answered, context->method().ends_with("/Chat"));
}

GarbageGrpcServer::GarbageGrpcServer() {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterCallbackGenericService(&service_);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) throw std::runtime_error("the garbage gRPC server did not start");
}

GarbageGrpcServer::~GarbageGrpcServer() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace chathost::test
