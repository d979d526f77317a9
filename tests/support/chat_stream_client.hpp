// A gRPC client of chat.ChatService for tests: a Chat stream whose incoming
// events a background thread collects, so a test can send, then wait for
// the event it expects.
//
//   ChatStreamClient alice(channel);
//   alice.send(join("r1", "alice"));
//   auto joined = alice.wait_for([](const chat::ChatStream& e) { return e.has_joined(); });
#pragma once

#include "chat.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace chathost::test {

using EventPredicate = std::function<bool(const chat::ChatStream&)>;

std::shared_ptr<grpc::Channel> chat_channel(const std::string& host, std::uint16_t port);

class ChatStreamClient {
 public:
  // `service_token`: sent as `authorization: Bearer` metadata, as the
  // bridges do (empty: none, a plain client).
  explicit ChatStreamClient(const std::shared_ptr<grpc::Channel>& channel, const std::string& service_token = "");
  ~ChatStreamClient();
  ChatStreamClient(const ChatStreamClient&) = delete;
  ChatStreamClient& operator=(const ChatStreamClient&) = delete;

  bool send(const chat::ChatStream& frame);
  // Half-closes; the server finishes the stream once its side is written.
  void close_sending();
  // Waits for the stream's status (after the server or we ended it).
  std::optional<grpc::Status> wait_finished(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // The first event from position `from` on that matches; nullopt on timeout
  // or when the stream ended without one.
  std::optional<chat::ChatStream> wait_for(const EventPredicate& predicate,
                                           std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                           std::size_t from = 0);
  // Waits until `count` events match; returns them (fewer on timeout).
  std::vector<chat::ChatStream> wait_for_count(const EventPredicate& predicate, std::size_t count,
                                               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<chat::ChatStream> events() const;
  std::vector<chat::ChatStream> events_matching(const EventPredicate& predicate) const;

 private:
  void read_loop();

  std::unique_ptr<chat::ChatService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<chat::ChatStream, chat::ChatStream>> stream_;
  std::mutex write_mutex_;
  bool writes_done_ = false;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<chat::ChatStream> events_;
  bool ended_ = false;
  std::optional<grpc::Status> status_;
  std::thread reader_;
};

// Frame builders.
chat::ChatStream chat_message(const std::string& room, const std::string& sender, const std::string& content,
                              const std::string& id = "");
chat::ChatStream join(const std::string& room, const std::string& user, std::optional<std::uint64_t> since = {});
chat::ChatStream leave(const std::string& room, const std::string& user);
chat::ChatStream typing(const std::string& room, const std::string& user, bool stopped = false);

// A client context with a deadline of `timeout`, presenting `service_token`
// (when not empty) as the bridges do.
std::unique_ptr<grpc::ClientContext> call_context(const std::string& service_token = "",
                                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// grpc.health.v1 Check of "chat.ChatService": SERVING or not; nullopt when
// the call fails (nobody answers).
std::optional<bool> chat_service_serving(const std::shared_ptr<grpc::Channel>& channel);

// Predicates.
EventPredicate is_message_in(const std::string& room);
EventPredicate is_message_with_content(const std::string& content);
EventPredicate is_message_id(const std::string& id);
EventPredicate is_ack_for(const std::string& id);
EventPredicate is_error();
EventPredicate is_error_for(chat::Error::Code code, const std::string& id);
EventPredicate is_any_message();
EventPredicate is_joined(const std::string& room);
EventPredicate is_presence(const std::string& room, chat::Presence::Kind kind, const std::string& user = "");
// Any typing event when `stopped` is not given.
EventPredicate is_typing(const std::string& room, const std::string& user, std::optional<bool> stopped = {});

// Expects `message` to be the first one stored in `room`, from `sender`
// with `content`: sequence 1, server id "<room>:1", a timestamp of our time.
void expect_first_message_of_room(const chat::ChatMessage& message, const std::string& room, const std::string& sender,
                                  const std::string& content);

// The first event at or after `from` that matches; events.size() if none.
std::size_t index_of(const std::vector<chat::ChatStream>& events, const EventPredicate& predicate, std::size_t from = 0);

}  // namespace chathost::test
