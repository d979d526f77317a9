// A gRPC server that answers every message of every method, and a Chat
// stream at once, with bytes that are no protobuf message at all: a chat service gone wrong, or something
// else listening where the chat service should be. Tests use it to see that
// a bridge reports such answers instead of trusting them.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace chathost::test {

class GarbageGrpcServer {
 public:
  // Listens on a free port of 127.0.0.1.
  GarbageGrpcServer();
  ~GarbageGrpcServer();
  GarbageGrpcServer(const GarbageGrpcServer&) = delete;
  GarbageGrpcServer& operator=(const GarbageGrpcServer&) = delete;

  std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }
  // Answers sent so far.
  int answered() const { return service_.answered.load(); }

 private:
  class Service final : public grpc::CallbackGenericService {
   public:
    grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;
    std::atomic<int> answered{0};
  };

  Service service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace chathost::test
