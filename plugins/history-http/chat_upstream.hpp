// The chat service as history-http sees it: one gRPC channel to grpc-chat
// (in this host process or another) and the two calls it makes, both
// asynchronous (gRPC's callback API), so no HTTP thread ever waits on the
// network.
//
// Every call has a deadline and does not wait for a connection: with the
// chat service down, calls fail at once with UNAVAILABLE, and the channel
// keeps reconnecting with a short backoff so service resumes soon after
// grpc-chat is back.
//
// Calls go through a generic stub, bytes in and out, and answers are parsed
// in the call's OnDone rather than by gRPC just before it: the parse then
// comes after tsan::received, where ThreadSanitizer can order it (see
// tsan/annotations.hpp). It costs the same, on the same thread.
#pragma once

#include "chat.grpc.pb.h"
#include "health.grpc.pb.h"

#include "tls/tls_config.hpp"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <google/protobuf/message_lite.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace chat::history_http {

class ChatUpstream {
 public:
  // The page lives in the call's arena: read it in `done`, keep nothing of it.
  using HistoryDone = std::function<void(const grpc::Status&, const chat::GetChatHistoryResponse&)>;
  using HealthDone = std::function<void(const grpc::Status&, bool serving)>;

  // `target`: "host:port" of grpc-chat, reached over TLS or not as
  // `security` says. Connects lazily: the chat service may be down at start.
  ChatUpstream(const std::string& target, const chat::tls::ChannelSecurity& security,
               std::chrono::milliseconds deadline);
  ~ChatUpstream();
  ChatUpstream(const ChatUpstream&) = delete;
  ChatUpstream& operator=(const ChatUpstream&) = delete;

  const std::string& target() const { return target_; }

  // `done` runs exactly once, on a gRPC thread (or on the caller's, after shutdown()).
  void get_history(const chat::GetChatHistoryRequest& request, HistoryDone done);
  // grpc.health.v1.Health/Check for "chat.ChatService".
  void check_health(HealthDone done);

  // Cancels the calls in flight and returns once every `done` of them has
  // returned; later calls fail at once with CANCELLED.
  void shutdown();

 private:
  class Call;

  // Starts `call`, or finishes it with CANCELLED once shutting down.
  void start(Call* call, const std::string& method, const google::protobuf::MessageLite& request);
  // The call has finished and is gone.
  void end(grpc::ClientContext* context);

  const std::string target_;
  const std::chrono::milliseconds deadline_;
  const std::string service_token_;  // presented on every call (service_auth/)
  std::shared_ptr<grpc::Channel> channel_;
  grpc::GenericStub stub_;

  std::mutex mutex_;
  std::condition_variable idle_;
  bool closing_ = false;
  std::set<grpc::ClientContext*> in_flight_;
};

}  // namespace chat::history_http
