#include "support/chat_stream_client.hpp"

#include "health.grpc.pb.h"  // from chat_proto

#include <gtest/gtest.h>

namespace chathost::test {

std::shared_ptr<grpc::Channel> chat_channel(const std::string& host, std::uint16_t port) {
  return grpc::CreateChannel(host + ":" + std::to_string(port), grpc::InsecureChannelCredentials());
}

ChatStreamClient::ChatStreamClient(const std::shared_ptr<grpc::Channel>& channel, const std::string& service_token)
    : stub_(chat::ChatService::NewStub(channel)) {
  context_.set_wait_for_ready(true);
  if (!service_token.empty()) context_.AddMetadata("authorization", "Bearer " + service_token);
  stream_ = stub_->Chat(&context_);
  reader_ = std::thread([this] { read_loop(); });
}

ChatStreamClient::~ChatStreamClient() {
  context_.TryCancel();
  reader_.join();
}

void ChatStreamClient::read_loop() {
  chat::ChatStream event;
  while (stream_->Read(&event)) {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    changed_.notify_all();
  }
  grpc::Status status = stream_->Finish();
  std::lock_guard lock(mutex_);
  ended_ = true;
  status_ = status;
  changed_.notify_all();
}

bool ChatStreamClient::send(const chat::ChatStream& frame) {
  std::lock_guard lock(write_mutex_);
  if (writes_done_) return false;
  return stream_->Write(frame);
}

void ChatStreamClient::close_sending() {
  std::lock_guard lock(write_mutex_);
  if (!writes_done_) stream_->WritesDone();
  writes_done_ = true;
}

std::optional<grpc::Status> ChatStreamClient::wait_finished(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [this] { return ended_; });
  return status_;
}

std::optional<chat::ChatStream> ChatStreamClient::wait_for(const EventPredicate& predicate,
                                                           std::chrono::milliseconds timeout, std::size_t from) {
  std::unique_lock lock(mutex_);
  std::optional<chat::ChatStream> found;
  changed_.wait_for(lock, timeout, [&] {
    for (std::size_t i = from; i < events_.size(); ++i) {
      if (predicate(events_[i])) {
        found = events_[i];
        return true;
      }
    }
    return ended_;
  });
  return found;
}

std::vector<chat::ChatStream> ChatStreamClient::wait_for_count(const EventPredicate& predicate, std::size_t count,
                                                               std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::vector<chat::ChatStream> found;
  changed_.wait_for(lock, timeout, [&] {
    found.clear();
    for (const auto& event : events_) {
      if (predicate(event)) found.push_back(event);
    }
    return found.size() >= count || ended_;
  });
  return found;
}

std::vector<chat::ChatStream> ChatStreamClient::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::vector<chat::ChatStream> ChatStreamClient::events_matching(const EventPredicate& predicate) const {
  std::lock_guard lock(mutex_);
  std::vector<chat::ChatStream> found;
  for (const auto& event : events_) {
    if (predicate(event)) found.push_back(event);
  }
  return found;
}

chat::ChatStream chat_message(const std::string& room, const std::string& sender, const std::string& content,
                              const std::string& id) {
  chat::ChatStream frame;
  auto* message = frame.mutable_chat_message();
  message->set_room_id(room);
  message->set_sender_id(sender);
  message->set_content(content);
  message->set_id(id);
  return frame;
}

chat::ChatStream join(const std::string& room, const std::string& user, std::optional<std::uint64_t> since) {
  chat::ChatStream frame;
  frame.mutable_join()->set_room_id(room);
  frame.mutable_join()->set_user_id(user);
  if (since) frame.mutable_join()->set_since(*since);
  return frame;
}

chat::ChatStream leave(const std::string& room, const std::string& user) {
  chat::ChatStream frame;
  frame.mutable_leave()->set_room_id(room);
  frame.mutable_leave()->set_user_id(user);
  return frame;
}

chat::ChatStream typing(const std::string& room, const std::string& user, bool stopped) {
  chat::ChatStream frame;
  frame.mutable_typing()->set_room_id(room);
  frame.mutable_typing()->set_user_id(user);
  frame.mutable_typing()->set_stopped(stopped);
  return frame;
}

EventPredicate is_message_in(const std::string& room) {
  return [room](const chat::ChatStream& e) { return e.has_chat_message() && e.chat_message().room_id() == room; };
}

EventPredicate is_message_with_content(const std::string& content) {
  return [content](const chat::ChatStream& e) {
    return e.has_chat_message() && e.chat_message().content() == content;
  };
}

EventPredicate is_message_id(const std::string& id) {
  return [id](const chat::ChatStream& e) { return e.has_chat_message() && e.chat_message().id() == id; };
}

EventPredicate is_ack_for(const std::string& id) {
  return [id](const chat::ChatStream& e) { return e.has_ack() && e.ack().id() == id; };
}

EventPredicate is_error() {
  return [](const chat::ChatStream& e) { return e.has_error(); };
}

EventPredicate is_error_for(chat::Error::Code code, const std::string& id) {
  return [code, id](const chat::ChatStream& e) { return e.has_error() && e.error().code() == code && e.error().id() == id; };
}

EventPredicate is_any_message() {
  return [](const chat::ChatStream& e) { return e.has_chat_message(); };
}

EventPredicate is_joined(const std::string& room) {
  return [room](const chat::ChatStream& e) { return e.has_joined() && e.joined().room_id() == room; };
}

EventPredicate is_typing(const std::string& room, const std::string& user, std::optional<bool> stopped) {
  return [room, user, stopped](const chat::ChatStream& e) {
    return e.has_typing() && e.typing().room_id() == room && e.typing().user_id() == user &&
           (!stopped || e.typing().stopped() == *stopped);
  };
}

EventPredicate is_presence(const std::string& room, chat::Presence::Kind kind, const std::string& user) {
  return [room, kind, user](const chat::ChatStream& e) {
    return e.has_presence() && e.presence().room_id() == room && e.presence().kind() == kind &&
           (user.empty() || e.presence().user_id() == user);
  };
}

std::unique_ptr<grpc::ClientContext> call_context(const std::string& service_token, std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  if (!service_token.empty()) context->AddMetadata("authorization", "Bearer " + service_token);
  return context;
}

std::optional<bool> chat_service_serving(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("chat.ChatService");
  grpc::health::v1::HealthCheckResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  if (!stub->Check(&context, request, &response).ok()) return std::nullopt;
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

std::size_t index_of(const std::vector<chat::ChatStream>& events, const EventPredicate& predicate, std::size_t from) {
  for (std::size_t i = from; i < events.size(); ++i) {
    if (predicate(events[i])) return i;
  }
  return events.size();
}

void expect_first_message_of_room(const chat::ChatMessage& message, const std::string& room, const std::string& sender,
                                  const std::string& content) {
  EXPECT_EQ(message.room_id(), room);
  EXPECT_EQ(message.sender_id(), sender);
  EXPECT_EQ(message.content(), content);
  EXPECT_EQ(message.sequence(), 1U);
  EXPECT_EQ(message.server_id(), room + ":1");
  EXPECT_GT(message.timestamp().seconds(), 1700000000);  // after November 2023
}

}  // namespace chathost::test
