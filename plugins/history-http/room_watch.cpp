#include "room_watch.hpp"

#include "api_responses.hpp"

#include <chrono>

namespace chat::history_http {

RoomWatch::RoomWatch(ChatUpstream& upstream, RecentHistory& recent, std::shared_ptr<spdlog::logger> log)
    : upstream_(upstream), recent_(recent), log_(std::move(log)) {}

RoomWatch::~RoomWatch() { stop(); }

void RoomWatch::start() { thread_ = std::thread([this] { run(); }); }

void RoomWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RoomWatch::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    stub_ = std::make_unique<chat::bridge::ChatStreamStub>(upstream_.preferred_channel());
    auto* call = new chat::bridge::ChatCall(*stub_, *this, upstream_.service_token());
    call_ = call;
    running_ = true;
    lock.unlock();
    call->start();
    lock.lock();
    // While the call lives: watches unanswered for a deadline give up.
    while (!changed_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_ || !running_; })) {
      lock.unlock();
      recent_.expire(std::chrono::steady_clock::now() - upstream_.deadline());
      lock.lock();
    }
    if (stopping_) break;
    changed_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
  // The call waits for a node that is down (wait_for_ready): cancel it.
  if (call_ != nullptr) call_->cancel();
  changed_.wait(lock, [this] { return !running_; });
  stub_.reset();
}

bool RoomWatch::send(const chat::ChatStream& frame) {
  std::lock_guard lock(mutex_);
  return call_ != nullptr && accepted_ && call_->write(frame);
}

void RoomWatch::on_accepted(chat::bridge::ChatCall& /*call*/) {
  {
    std::lock_guard lock(mutex_);
    accepted_ = true;
    if (said_down_) log_->info("the watch stream is back: recent history pages are answered from the copy again");
    said_down_ = false;
  }
  recent_.stream_up();
}

void RoomWatch::on_events(chat::bridge::ChatCall& /*call*/, std::span<const chat::ChatStream* const> events) {
  for (const chat::ChatStream* event : events) {
    switch (event->payload_case()) {
      case chat::ChatStream::kChatMessage: recent_.on_message(event->chat_message()); break;
      case chat::ChatStream::kWatching: recent_.on_watching(event->watching()); break;
      case chat::ChatStream::kError:
        if (event->error().frame() == "watch") recent_.on_refused(event->error().room_id(), event->error().code());
        break;
      default: break;  // nothing else is for a watcher
    }
  }
}

void RoomWatch::on_ended(chat::bridge::ChatCall& /*call*/) {
  {
    std::lock_guard lock(mutex_);
    call_ = nullptr;
    accepted_ = false;
  }
  recent_.stream_down();
}

void RoomWatch::on_done(const grpc::Status& status) {
  std::lock_guard lock(mutex_);
  running_ = false;
  if (!stopping_ && !said_down_) {
    log_->warn("the watch stream ended ({}: {}): history is read from the chat service until it is back",
               code_name(status.error_code()), status.error_message());
    said_down_ = true;
  }
  // Under the lock: once run() sees it, stop() may return and this go away.
  changed_.notify_all();
}

}  // namespace chat::history_http
