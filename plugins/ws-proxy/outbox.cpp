#include "outbox.hpp"

#include <algorithm>
#include <iterator>

namespace chat::proxy {

Outbox::Offer Outbox::offer(Frame frame, bool replayed, Limits limits) {
  if (closed_) return Offer::closed;
  const std::size_t size = frame.wire().size();
  if (!replayed && counted() >= limits.frames) {
    discard();
    return Offer::over_frames;
  }
  if (bytes_ + size > limits.bytes) {
    discard();
    return Offer::over_bytes;
  }
  bytes_ += size;
  if (replayed) ++replayed_;
  frames_.push_back(std::move(frame));
  return Offer::queued;
}

bool Outbox::owe_pong(Limits limits) {
  ++pongs_owed_;
  if (counted() <= limits.frames) return true;
  discard();
  return false;
}

void Outbox::take(std::vector<Frame>& batch, std::size_t max) {
  const std::size_t count = std::min(frames_.size(), max);
  const auto first = frames_.begin();
  const auto last = first + static_cast<std::ptrdiff_t>(count);
  for (auto it = first; it != last; ++it) bytes_ -= it->wire().size();
  batch.insert(batch.end(), std::make_move_iterator(first), std::make_move_iterator(last));
  frames_.erase(first, last);
  // A replay is queued before the live frames that follow it: the oldest
  // frames taken are the replayed ones.
  replayed_ -= std::min(replayed_, count);
}

void Outbox::discard() {
  closed_ = true;
  frames_.clear();
  bytes_ = 0;
  replayed_ = 0;
}

void Outbox::shrink(std::size_t kept) {
  if (frames_.empty() && frames_.capacity() > kept) std::vector<Frame>().swap(frames_);
}

}  // namespace chat::proxy
