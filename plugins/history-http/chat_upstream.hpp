// The chat service as history-http sees it: a gRPC channel to each chat
// node (one grpc-chat in this host process or another, or several sharing
// PostgreSQL) and the calls it makes, both asynchronous (gRPC's callback
// API), so no HTTP thread ever waits on the network. Calls start on a node
// that serves by gRPC health; a call a node cannot take (UNAVAILABLE) is
// asked of the next node, and later calls start there.
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

#include "net/chat_node_health.hpp"
#include "tls/tls_config.hpp"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <google/protobuf/message_lite.h>
#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace chat::history_http {

class ChatUpstream {
 public:
  // The page lives in the call's arena: read it in `done`, keep nothing of it.
  using HistoryDone = std::function<void(const grpc::Status&, const chat::GetChatHistoryResponse&)>;
  using SendersDone = std::function<void(const grpc::Status&, const chat::GetRoomSendersResponse&)>;
  using HealthDone = std::function<void(const grpc::Status&, bool serving)>;

  // `targets`: "host:port" of each chat node, reached over TLS or not as
  // `security` says. Connects lazily: the chat service may be down at start.
  ChatUpstream(std::vector<std::string> targets, const chat::tls::ChannelSecurity& security,
               std::chrono::milliseconds deadline, std::shared_ptr<spdlog::logger> log);
  ~ChatUpstream();
  ChatUpstream(const ChatUpstream&) = delete;
  ChatUpstream& operator=(const ChatUpstream&) = delete;

  const std::vector<std::string>& targets() const { return targets_; }
  // Where a call would start now (a serving node, with several), for a
  // stream of one's own (room_watch.hpp), and what it presents.
  std::shared_ptr<grpc::Channel> preferred_channel() const;
  const std::string& service_token() const { return service_token_; }
  // How long a call may take (upstream_deadline_ms).
  std::chrono::milliseconds deadline() const { return deadline_; }

  // `done` runs exactly once, on a gRPC thread (or on the caller's, after shutdown()).
  void get_history(const chat::GetChatHistoryRequest& request, HistoryDone done);
  void get_senders(const chat::GetRoomSendersRequest& request, SendersDone done);
  // grpc.health.v1.Health/Check for "chat.ChatService".
  void check_health(HealthDone done);

  // Cancels the calls in flight and returns once every `done` of them has
  // returned; later calls fail at once with CANCELLED.
  void shutdown();

 private:
  class Call;

  // Where calls start: the preferred node, or one that serves in its stead.
  std::size_t preferred_node() const;
  // Starts `call` with `request` on the preferred node.
  void start(Call* call, const google::protobuf::MessageLite& request);
  // Starts `call` on its node, or finishes it with CANCELLED once shutting down.
  void launch(Call* call);
  void node_failed(std::size_t failed, std::size_t next);
  // The call has finished and is gone.
  void end(grpc::ClientContext* context);

  const std::vector<std::string> targets_;
  const std::chrono::milliseconds deadline_;
  const std::string service_token_;  // presented on every call (service_auth/)
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;  // one per channel
  std::atomic<std::size_t> preferred_{0};                  // where calls start
  std::unique_ptr<chat::net::ChatNodeHealth> health_;      // with several nodes

  std::mutex mutex_;
  std::condition_variable idle_;
  bool closing_ = false;
  std::set<grpc::ClientContext*> in_flight_;
};

}  // namespace chat::history_http
