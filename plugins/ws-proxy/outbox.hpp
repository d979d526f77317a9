// What waits to be written to one client: the frames queued for it, bounded
// in count and in bytes, handed to the session's writer in batches of at
// most one writev's worth.
//
// The bounds are what keeps a client that never reads from costing the
// proxy memory: a frame that would go over either one is refused, the
// outbox is discarded (it drops what it holds and takes nothing more), and
// the session closes the connection with 1008. Frames of a replay the client
// asked for (a join with `since`) do not count against the frame bound, only
// against the bytes; pongs owed while a write is pending count against the
// frame bound, since each is a frame the client asked for and has not read.
//
// No sockets and no lock: the session's thread owns it.
#pragma once

#include "frames.hpp"

#include <cstddef>
#include <vector>

namespace chat::proxy {

class Outbox {
 public:
  struct Limits {
    std::size_t frames;  // send_queue_limit
    std::size_t bytes;   // send_queue_bytes
  };

  // What became of a frame offered.
  enum class Offer {
    queued,
    closed,       // the outbox takes no more (sealed or discarded): dropped
    over_frames,  // over the frame bound: the outbox is discarded
    over_bytes,   // over the byte bound: the outbox is discarded
  };

  Offer offer(Frame frame, bool replayed, Limits limits);
  // A pong answered while a write is pending: one more frame owed. False
  // when that goes over the frame bound (the outbox is discarded).
  bool owe_pong(Limits limits);
  // A write completed: the pongs owed went with it.
  void pongs_written() { pongs_owed_ = 0; }

  // Moves up to `max` frames, the oldest first, to the end of `batch`.
  void take(std::vector<Frame>& batch, std::size_t max);

  // Takes no more frames; those it holds still go out (a closing session
  // flushes them before its close frame).
  void seal() { closed_ = true; }
  // Drops every frame it holds, and takes no more.
  void discard();
  bool closed() const { return closed_; }
  bool empty() const { return frames_.empty(); }
  std::size_t frames() const { return frames_.size(); }
  std::size_t bytes() const { return bytes_; }

  // Once empty after a burst: the room it grew for is given back unless it
  // is `kept` slots or fewer, so steady traffic does not allocate on every
  // frame.
  void shrink(std::size_t kept);

 private:
  // Frames counted against the frame bound: the queued ones but replays,
  // and the pongs owed.
  std::size_t counted() const { return frames_.size() - replayed_ + pongs_owed_; }

  std::vector<Frame> frames_;
  std::size_t bytes_ = 0;
  std::size_t replayed_ = 0;  // replay frames among frames_ (the oldest are taken first)
  std::size_t pongs_owed_ = 0;
  bool closed_ = false;
};

}  // namespace chat::proxy
