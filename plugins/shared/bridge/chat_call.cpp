#include "bridge/chat_call.hpp"

#include "frame_batches.hpp"
#include "service_auth/service_auth_config.hpp"
#include "tsan/annotations.hpp"

#include <algorithm>

namespace chat::bridge {
namespace {

// Frames per Batch, and bytes: a batch is one gRPC message.
constexpr std::size_t kMaxBatchFrames = 256;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;

}  // namespace

const std::string& ChatCall::method() {
  static const std::string name = "/" + std::string(ChatService::service_full_name()) + "/Chat";
  return name;
}

ChatCall::ChatCall(ChatStreamStub& stub, ChatCallSink& sink, const std::string& service_token) : sink_(sink) {
  context_.set_wait_for_ready(true);
  chat::service_auth::present(context_, service_token);
  // A link carries every client's events: several per message spare gRPC a
  // message, and the link a read, per event.
  chat::batches::ask(context_);
  stub.PrepareBidiStreamingCall(&context_, method(), grpc::StubOptions{}, this);
}

// Every operation is started after tsan::handoff(this), and every reaction
// begins with tsan::received(this): see tsan/annotations.hpp.
void ChatCall::start() {
  AddHold();
  tsan::handoff(this);
  StartRead(&incoming_);
  tsan::handoff(this);
  StartCall();
}

bool ChatCall::write(ChatStream frame) {
  std::lock_guard lock(mutex_);
  if (ended_) return false;
  writes_.push_back(std::move(frame));
  if (!writing_) start_write_locked();
  return true;
}

std::size_t ChatCall::queued() const {
  std::lock_guard lock(mutex_);
  return writes_.size();
}

void ChatCall::start_write_locked() {
  writing_ = true;
  // Once the service takes batches, what waits goes as one message (up to
  // a bound): a burst of the clients' messages costs one gRPC message.
  in_flight_ = 1;
  if (batches_taken_ && writes_.size() > 1) {
    std::size_t bytes = writes_.front().ByteSizeLong();
    while (in_flight_ < std::min(writes_.size(), kMaxBatchFrames)) {
      bytes += writes_[in_flight_].ByteSizeLong();  // a full pass over the frame: once
      if (bytes > kMaxBatchBytes) break;
      ++in_flight_;
    }
  }
  // While more frames wait behind these, gRPC may hold them back to send
  // them together; the last write queued carries no hint and flushes them all.
  grpc::WriteOptions options;
  if (writes_.size() > in_flight_) options.set_buffer_hint();
  tsan::handoff(this);
  if (in_flight_ == 1) {
    // The frame stays in the queue, alive, until OnWriteDone.
    StartWrite(&writes_.front(), options);
    return;
  }
  batch_.Clear();
  auto* frames = batch_.mutable_batch()->mutable_frames();
  for (std::size_t i = 0; i < in_flight_; ++i) *frames->Add() = std::move(writes_[i]);
  StartWrite(&batch_, options);
}

void ChatCall::OnWriteDone(bool ok) {
  tsan::received(this);
  std::lock_guard lock(mutex_);
  writing_ = false;
  writes_.erase(writes_.begin(), writes_.begin() + static_cast<std::ptrdiff_t>(std::min(in_flight_, writes_.size())));
  in_flight_ = 0;
  if (!ok) {
    // The call is broken; the read side reports it and ends the call.
    writes_.clear();
    return;
  }
  if (!ended_ && !writes_.empty()) start_write_locked();
}

void ChatCall::OnReadInitialMetadataDone(bool ok) {
  tsan::received(this);
  // Not ok: the call failed before the service took it (refused, or the
  // node went away); the read side reports it.
  if (!ok) return;
  {
    std::lock_guard lock(mutex_);
    batches_taken_ = chat::batches::answered(context_);
  }
  sink_.on_accepted(*this);
}

void ChatCall::OnReadDone(bool ok) {
  tsan::received(this);
  if (ok) {
    // Deserialize consumes the buffer; the next read fills it anew.
    if (grpc::SerializationTraits<ChatStream>::Deserialize(&incoming_, &event_).ok()) {
      events_.clear();
      if (event_.has_batch()) {
        for (const ChatStream& event : event_.batch().frames()) {
          if (!event.has_batch()) events_.push_back(&event);  // a batch holds no batch
        }
      } else {
        events_.push_back(&event_);
      }
      sink_.on_events(*this, events_);
      tsan::handoff(this);
      StartRead(&incoming_);
      return;
    }
    // What gRPC does with a message it cannot parse: end the call. The
    // read side ends below, after the cancelled read.
    unparsable_ = true;
    context_.TryCancel();
    tsan::handoff(this);
    StartRead(&incoming_);
    return;
  }
  sink_.on_ended(*this);
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
    // Keep only the write in flight: its frames must live until OnWriteDone.
    while (writes_.size() > in_flight_) writes_.pop_back();
  }
  tsan::handoff(this);
  RemoveHold();
}

void ChatCall::OnDone(const grpc::Status& status) {
  // Deleting the reactor (and its ClientContext) in OnDone is allowed; the
  // sink hears last, so a link waiting for its calls to finish never sees
  // one still being torn down.
  tsan::received(this);
  ChatCallSink& sink = sink_;
  const grpc::Status final_status =
      unparsable_ ? grpc::Status(grpc::StatusCode::INTERNAL, "the chat service sent a frame that is not a ChatStream")
                  : status;
  delete this;
  sink.on_done(final_status);
}

}  // namespace chat::bridge
