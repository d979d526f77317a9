// history-http's watch stream: one Chat call to a chat node that carries
// RecentHistory's Watch and Unwatch frames out, and brings the watched
// rooms' messages and the Watching answers back to it.
//
// While the stream is down the copy answers nothing (every request reads
// from the chat service); it is made again a second after it ends, to the
// node calls start on then. A watch unanswered for upstream_deadline_ms (a
// chat service that hangs) sends its requests to the chat service too.
#pragma once

#include "chat_upstream.hpp"
#include "recent_history.hpp"

#include "bridge/chat_call.hpp"

#include <spdlog/logger.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace chat::history_http {

class RoomWatch final : public chat::bridge::ChatCallSink {
 public:
  RoomWatch(ChatUpstream& upstream, RecentHistory& recent, std::shared_ptr<spdlog::logger> log);
  ~RoomWatch() override;
  RoomWatch(const RoomWatch&) = delete;
  RoomWatch& operator=(const RoomWatch&) = delete;

  void start();
  // Ends the stream and returns once its call is gone.
  void stop();

  // A frame on the stream; false while it is down.
  bool send(const chat::ChatStream& frame);

  // --- ChatCallSink, on gRPC's threads
  void on_accepted(chat::bridge::ChatCall& call) override;
  void on_events(chat::bridge::ChatCall& call, std::span<const chat::ChatStream* const> events) override;
  void on_ended(chat::bridge::ChatCall& call) override;
  void on_done(const grpc::Status& status) override;

 private:
  // Makes the call, and again a second after each one ends, until stop().
  void run();

  ChatUpstream& upstream_;
  RecentHistory& recent_;
  std::shared_ptr<spdlog::logger> log_;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::unique_ptr<chat::bridge::ChatStreamStub> stub_;  // of the current call's channel
  chat::bridge::ChatCall* call_ = nullptr;  // until it ends; no write after
  bool accepted_ = false;
  bool running_ = false;  // a call exists, until its OnDone
  bool stopping_ = false;
  bool said_down_ = false;  // one log line per outage
  std::thread thread_;
};

}  // namespace chat::history_http
