// One chat.ChatService/Chat call on gRPC's callback API: a bidi reactor with
// a read always pending, a write queue with exactly one write in flight, and
// the events handed to a sink (the UpstreamLink).
//
// Events arrive as raw bytes and are parsed in OnReadDone, not by gRPC:
// gRPC would parse the next event into the call's buffer on its own thread
// before the reaction starts, an order ThreadSanitizer cannot see through
// Debian's uninstrumented gRPC (see tsan/annotations.hpp). The parse costs
// the same either way, on the same thread.
//
// Lifetime: created by the link, deletes itself in OnDone after telling the
// sink. Writes come from outside the reactions (WebSocket threads), hence
// one hold, removed once the read side has ended: after that no write is
// started and OnDone can come.
#pragma once

#include "chat.grpc.pb.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <deque>
#include <mutex>
#include <span>
#include <vector>

namespace chat::bridge {

class ChatCall;

class ChatCallSink {
 public:
  virtual ~ChatCallSink() = default;
  // The chat service accepted the call (its initial metadata came).
  virtual void on_accepted(ChatCall& call) = 0;
  // The events of one message from the chat service (one, or a batch's),
  // in order; on a gRPC thread, one message at a time per call.
  virtual void on_events(ChatCall& call, std::span<const ChatStream* const> events) = 0;
  // The call can carry nothing more (broken, cancelled or finished); no
  // write may follow. Before on_done.
  virtual void on_ended(ChatCall& call) = 0;
  // Last: the call has already been deleted when this runs.
  virtual void on_done(const grpc::Status& status) = 0;
};

// Chat with typed frames out and raw bytes in.
using ChatStreamStub = grpc::TemplatedGenericStub<ChatStream, grpc::ByteBuffer>;

class ChatCall final : public grpc::ClientBidiReactor<ChatStream, grpc::ByteBuffer> {
 public:
  // The method's full name, for ChatStreamStub.
  static const std::string& method();

  // `service_token`: presented to the chat service (service_auth/).
  ChatCall(ChatStreamStub& stub, ChatCallSink& sink, const std::string& service_token);

  // Starts the call. Waits for the channel to be ready (wait_for_ready): a
  // chat service that is down is waited for.
  void start();
  // Queues a frame; false once the call has ended.
  bool write(ChatStream frame);
  std::size_t queued() const;
  // Ends the call (stop); OnDone follows.
  void cancel() { context_.TryCancel(); }

  void OnReadInitialMetadataDone(bool ok) override;
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void start_write_locked();

  grpc::ClientContext context_;
  ChatCallSink& sink_;
  grpc::ByteBuffer incoming_;
  ChatStream event_;  // incoming_, parsed
  std::vector<const ChatStream*> events_;  // in event_: itself, or its batch's frames
  bool unparsable_ = false;

  mutable std::mutex mutex_;
  std::deque<ChatStream> writes_;  // the first in_flight_ are being written
  ChatStream batch_;               // what is being written, when several frames went as one Batch
  std::size_t in_flight_ = 0;
  bool batches_taken_ = false;     // the service answered chat-batches: 1
  bool writing_ = false;
  bool ended_ = false;
};

}  // namespace chat::bridge
