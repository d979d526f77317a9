// One grpc.health.v1.Health/Check of "chat.ChatService" on a channel: whether
// a chat node serves (it runs, is not draining, and its store answers). The
// bridges ask it to know that a node is ready, rather than sending a frame
// and reading the answer.
//
//   auto check = ChatServiceCheck::start(channel, 2s, [](bool serving, const std::string& why) { ... });
//   check->cancel();  // early: `done` still runs once, not serving
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace chat::net {

class ChatServiceCheck {
 public:
  // `serving`, or `why` not, for the log: the call's error, an answer that
  // does not parse, or the status the node gave (NOT_SERVING).
  using Done = std::function<void(bool serving, const std::string& why)>;

  // Starts the check, with `deadline` as its deadline. `done` runs once, on
  // a gRPC thread, or at once on this one when the channel is shut down.
  static std::shared_ptr<ChatServiceCheck> start(const std::shared_ptr<grpc::Channel>& channel,
                                                 std::chrono::milliseconds deadline, Done done);

  // Ends the check early (stopping); `done` runs all the same.
  void cancel() { context_.TryCancel(); }

 private:
  explicit ChatServiceCheck(Done done) : done_(std::move(done)) {}
  void finished(const grpc::Status& status);

  // Bytes in and out through a generic stub, the answer parsed in the
  // callback: after tsan::received, where ThreadSanitizer can order it (see
  // tsan/annotations.hpp), not by gRPC on its thread just before.
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  Done done_;
  std::shared_ptr<ChatServiceCheck> self_;  // until the answer is read
};

}  // namespace chat::net
