#include "stream_session.hpp"

#include "tsan/annotations.hpp"

namespace chat::service {

Event encode(const ChatStream& frame) {
  auto buffer = std::make_shared<grpc::ByteBuffer>();
  bool own_buffer = false;
  auto status = grpc::SerializationTraits<ChatStream>::Serialize(frame, buffer.get(), &own_buffer);
  if (!status.ok()) throw std::runtime_error("cannot serialize an event: " + status.error_message());
  return buffer;
}

void StreamSession::attach(StreamReactor* reactor, grpc::CallbackServerContext* context,
                           grpc::ByteBuffer* read_buffer) {
  std::lock_guard lock(mutex_);
  reactor_ = reactor;
  context_ = context;
  read_buffer_ = read_buffer;
}

void StreamSession::detach() {
  std::lock_guard lock(mutex_);
  reactor_ = nullptr;
  context_ = nullptr;
  read_buffer_ = nullptr;
  queue_.clear();
}

bool StreamSession::send(Event event) {
  std::lock_guard lock(mutex_);
  if (reactor_ == nullptr || finish_status_) return false;
  if (queue_.size() >= queue_limit_) {
    // Keep only the write in flight: its buffer must live until OnWriteDone.
    while (queue_.size() > (writing_ ? 1U : 0U)) queue_.pop_back();
    finish_status_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  "stream too slow: " + std::to_string(queue_limit_) + " events queued");
    // The write in flight may never complete (a client that reads nothing,
    // and set no deadline): cancelling completes it with ok = false, so the
    // call ends either way; such a client sees CANCELLED, not the status.
    // Safe under the lock: gRPC runs a bidi reactor's reactions on its own
    // threads, never inline in TryCancel.
    if (writing_ && context_ != nullptr) context_->TryCancel();
    maybe_finish_locked();
    return false;
  }
  queue_.push_back(std::move(event));
  if (!writing_) start_write_locked();
  return true;
}

void StreamSession::start_write_locked() {
  writing_ = true;
  // While more events wait behind this one, gRPC may hold it back and send
  // them together: a burst of fan-out (a join storm's presence events, say)
  // costs one system call per batch, not one per event, and the threads
  // that also poll the sockets get back to reading. The last event queued
  // carries no hint and flushes them all.
  grpc::WriteOptions options;
  if (queue_.size() > 1) options.set_buffer_hint();
  // The event stays alive in the queue until OnWriteDone pops it.
  tsan::handoff(reactor_);
  reactor_->StartWrite(queue_.front().get(), options);
}

void StreamSession::on_write_done(bool ok) {
  std::lock_guard lock(mutex_);
  writing_ = false;
  if (!queue_.empty()) queue_.pop_front();
  if (!ok) {
    // The peer is gone; nothing more can be written.
    queue_.clear();
    if (!finish_status_) finish_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "stream broken");
  }
  if (reactor_ != nullptr && !queue_.empty()) {
    start_write_locked();
    return;
  }
  maybe_finish_locked();
}

void StreamSession::finish(grpc::Status status, bool drop_queue) {
  std::lock_guard lock(mutex_);
  if (drop_queue) {
    // Keep only the write in flight: its buffer must live until OnWriteDone.
    while (queue_.size() > (writing_ ? 1U : 0U)) queue_.pop_back();
    pending_commits_ = 0;
  }
  if (!finish_status_) finish_status_ = std::move(status);
  maybe_finish_locked();
}

void StreamSession::maybe_finish_locked() {
  if (finished_ || reactor_ == nullptr || !finish_status_ || writing_ || !queue_.empty() || pending_commits_ > 0) {
    return;
  }
  finished_ = true;
  tsan::handoff(reactor_);
  reactor_->Finish(*finish_status_);
}

void StreamSession::commit_started() {
  std::lock_guard lock(mutex_);
  ++pending_commits_;
}

void StreamSession::commit_done() {
  std::lock_guard lock(mutex_);
  if (pending_commits_ > 0) --pending_commits_;
  if (read_paused_ && pending_commits_ <= pending_limit_ / 2 && reactor_ != nullptr && !finish_status_) {
    read_paused_ = false;
    tsan::handoff(reactor_);
    reactor_->StartRead(read_buffer_);
  }
  maybe_finish_locked();
}

void StreamSession::read_next() {
  std::lock_guard lock(mutex_);
  if (reactor_ == nullptr || finish_status_) return;
  if (pending_commits_ >= pending_limit_) {
    read_paused_ = true;
    return;
  }
  tsan::handoff(reactor_);
  reactor_->StartRead(read_buffer_);
}

}  // namespace chat::service
