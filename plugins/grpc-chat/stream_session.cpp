#include "stream_session.hpp"

#include "tsan/annotations.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace chat::service {
namespace {

// Events per Batch, and bytes: a batch is one gRPC message, and the bigger
// it is, the longer the first of its events waits for the last.
constexpr std::size_t kMaxBatchEvents = 256;
constexpr std::size_t kMaxBatchBytes = 256 * 1024;

void put_varint(std::string& out, std::size_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

// A field's key and length, as protobuf writes a length-delimited field.
std::string field_header(unsigned field, std::size_t length) {
  std::string header(1, static_cast<char>((field << 3) | 2));
  put_varint(header, length);
  return header;
}

// The first `count` events as one ChatStream{batch: Batch{frames: ...}}, in
// protobuf's wire format, around the events' own slices: nothing is parsed
// or copied again, each event keeps the bytes it was encoded to once.
grpc::ByteBuffer pack_batch(const std::deque<Event>& events, std::size_t count) {
  constexpr unsigned kBatchField = ChatStream::kBatchFieldNumber;
  constexpr unsigned kFramesField = Batch::kFramesFieldNumber;
  std::vector<std::string> headers;
  headers.reserve(count);
  std::size_t inner = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t length = events[i]->Length();
    headers.push_back(field_header(kFramesField, length));
    inner += headers.back().size() + length;
  }
  std::vector<grpc::Slice> slices;
  slices.reserve(1 + 2 * count);
  slices.emplace_back(field_header(kBatchField, inner));
  std::vector<grpc::Slice> event_slices;
  for (std::size_t i = 0; i < count; ++i) {
    slices.emplace_back(headers[i]);
    event_slices.clear();
    if (!events[i]->Dump(&event_slices).ok()) throw std::runtime_error("an event's bytes cannot be read");
    slices.insert(slices.end(), event_slices.begin(), event_slices.end());
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

// The Cork open on this thread, if any.
thread_local StreamSession::Cork* cork_on_this_thread = nullptr;

}  // namespace

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
    while (queue_.size() > in_flight_) queue_.pop_back();
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
  if (writing_ || corked_) return true;
  if (Cork* cork = cork_on_this_thread) {
    corked_ = true;
    cork->held_.push_back(shared_from_this());
    return true;
  }
  start_write_locked();
  return true;
}

StreamSession::Cork::Cork() {
  if (cork_on_this_thread == nullptr) cork_on_this_thread = this;
}

StreamSession::Cork::~Cork() {
  if (cork_on_this_thread != this) return;
  cork_on_this_thread = nullptr;
  for (const auto& session : held_) {
    std::lock_guard lock(session->mutex_);
    session->corked_ = false;
    if (session->reactor_ != nullptr && !session->writing_ && !session->queue_.empty()) {
      session->start_write_locked();
    }
  }
}

void StreamSession::start_write_locked() {
  writing_ = true;
  // While more events wait behind this one, gRPC may hold it back and send
  // them together: a burst of fan-out (a join storm's presence events, say)
  // costs one system call per batch, not one per event, and the threads
  // that also poll the sockets get back to reading. The last event queued
  // carries no hint and flushes them all.
  grpc::WriteOptions options;
  // A stream that asked for batches gets everything waiting in one message
  // (up to a bound): one gRPC message for a committed batch's acks and echoes.
  in_flight_ = 1;
  if (batches_ && queue_.size() > 1) {
    std::size_t bytes = queue_.front()->Length();
    while (in_flight_ < std::min(queue_.size(), kMaxBatchEvents) && bytes + queue_[in_flight_]->Length() <= kMaxBatchBytes) {
      bytes += queue_[in_flight_]->Length();
      ++in_flight_;
    }
  }
  if (queue_.size() > in_flight_) options.set_buffer_hint();
  // The events stay alive in the queue until OnWriteDone pops them.
  tsan::handoff(reactor_);
  if (in_flight_ == 1) {
    reactor_->StartWrite(queue_.front().get(), options);
  } else {
    batch_ = pack_batch(queue_, in_flight_);
    reactor_->StartWrite(&batch_, options);
  }
}

void StreamSession::on_write_done(bool ok) {
  std::lock_guard lock(mutex_);
  writing_ = false;
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(std::min(in_flight_, queue_.size())));
  in_flight_ = 0;
  batch_.Clear();
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
    while (queue_.size() > in_flight_) queue_.pop_back();
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
