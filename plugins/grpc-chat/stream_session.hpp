// The server side of one Chat stream as the rest of the service sees it: an
// outgoing queue with one write in flight, read back-pressure, and a finish
// that waits for queued events and uncommitted messages.
//
// The gRPC reactor (ChatStreamReactor) owns the call; the session outlives it
// as a shared_ptr held by rooms and by messages awaiting commit, and simply
// drops what is sent after the reactor is gone.
#pragma once

#include "caller_policy.hpp"
#include "client_kind.hpp"
#include "limits/token_bucket.hpp"

#include "chat.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <google/protobuf/arena.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace chat::service {

// Outgoing events are serialized once and the bytes shared by every stream
// they go to (the Chat method is registered raw, on grpc::ByteBuffer).
using Event = std::shared_ptr<const grpc::ByteBuffer>;
using StreamReactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

Event encode(const ChatStream& frame);

// Encodes the frame `fill` builds in this thread's scratch arena: its
// fields take no allocation of their own (one block, reused), only the
// encoded bytes do. For the events of every commit: an ack and an echo per
// message. `fill` must not call it again.
template <typename Fill>
Event encode_scratch(Fill&& fill) {
  // An arena's first block must be aligned as its allocations are (protobuf
  // checks it, and aborts the process if not); a char array alone is not.
  alignas(std::max_align_t) thread_local std::array<char, 16 * 1024> block;
  google::protobuf::ArenaOptions options;
  options.initial_block = block.data();
  options.initial_block_size = block.size();
  google::protobuf::Arena arena(options);
  auto* frame = google::protobuf::Arena::CreateMessage<ChatStream>(&arena);
  fill(*frame);
  return encode(*frame);
}

// Who a stream speaks for: a bridge, any users; anyone else, one user, named
// by the first frame that names one, and frames at a WebSocket connection's
// rate. Used from the stream's reads only, one at a time: not synchronized.
struct StreamCaller {
  StreamCaller(CallerRole caller_role, double messages_per_second, double burst)
      : role(caller_role), rate(messages_per_second, burst) {}

  CallerRole role;
  std::string user;  // a user stream's one user, once named
  chat::limits::TokenBucket rate;
  std::size_t strikes = 0;  // frames refused for rate in a row
};

class StreamSession : public std::enable_shared_from_this<StreamSession> {
 public:
  // `batches`: the stream asked for several events per message (chat.Batch).
  StreamSession(std::uint64_t id, std::size_t queue_limit, std::size_t pending_limit, StreamCaller caller,
                bool batches = false)
      : id_(id),
        queue_limit_(queue_limit),
        pending_limit_(pending_limit),
        batches_(batches),
        caller_(std::move(caller)) {}

  std::uint64_t id() const { return id_; }
  StreamCaller& caller() { return caller_; }
  // Whether it asked for batches (chat.Batch): it gets them, and may send them.
  bool takes_batches() const { return batches_; }

  // A stream that never sent a Join is messages-only (client_kind.hpp): it
  // receives chat messages and errors only, since presence and acks would
  // reach it as empty frames.
  ClientKind kind() const { return kind_.load(std::memory_order_relaxed); }
  bool speaks_full_protocol() const { return kind() == ClientKind::full_protocol; }
  void set_full_protocol() { kind_.store(ClientKind::full_protocol, std::memory_order_relaxed); }

  // Queues an event; false when the stream is finishing or gone. A stream
  // whose queue is full is finished with RESOURCE_EXHAUSTED: its owner
  // reconnects and recovers with Join.since. With a write still in flight
  // (which a client that never reads never completes) the call is cancelled
  // instead, so it ends all the same.
  bool send(Event event);

  // While one lives, the first event queued on this thread for each idle
  // stream waits for it to end before its write starts: a committed batch's
  // events reach each stream together, as one message for those that take
  // batches, instead of the first alone and the rest behind it. Not nested.
  class Cork {
   public:
    Cork();
    ~Cork();
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;

   private:
    friend class StreamSession;
    std::vector<std::shared_ptr<StreamSession>> held_;
  };

  // --- called by the reactor
  void attach(StreamReactor* reactor, grpc::CallbackServerContext* context, grpc::ByteBuffer* read_buffer);
  void on_write_done(bool ok);
  // Ends the stream with `status` once queued events are written and every
  // message it sent is committed. `drop_queue`: the peer is gone, skip the rest.
  void finish(grpc::Status status, bool drop_queue = false);
  void detach();

  // --- read back-pressure, for messages handed to the committer
  void commit_started();
  void commit_done();
  // After a read was handled: starts the next one, unless too many of this
  // stream's messages await commit (commit_done() resumes it then).
  void read_next();

 private:
  void start_write_locked();
  void maybe_finish_locked();

  const std::uint64_t id_;
  const std::size_t queue_limit_;
  const std::size_t pending_limit_;
  const bool batches_;
  StreamCaller caller_;
  std::atomic<ClientKind> kind_{ClientKind::messages_only};

  std::mutex mutex_;
  StreamReactor* reactor_ = nullptr;
  grpc::CallbackServerContext* context_ = nullptr;  // while reactor_ is set
  grpc::ByteBuffer* read_buffer_ = nullptr;
  std::deque<Event> queue_;  // the first in_flight_ of them are being written
  grpc::ByteBuffer batch_;   // what is being written, when several events went as one Batch
  std::size_t in_flight_ = 0;
  bool writing_ = false;
  bool corked_ = false;  // a Cork holds its first write back
  bool read_paused_ = false;
  std::size_t pending_commits_ = 0;
  std::optional<grpc::Status> finish_status_;
  bool finished_ = false;
};

using SessionPtr = std::shared_ptr<StreamSession>;

}  // namespace chat::service
