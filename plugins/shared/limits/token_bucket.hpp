// A per-connection rate limit: `rate` tokens a second, at most `burst` saved.
// One frame costs one token. Used by one reader at a time (a WebSocket
// session's strand, a Chat stream's reads), so not synchronized.
#pragma once

#include <algorithm>
#include <chrono>

namespace chat::limits {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst), last_(Clock::now()) {}

  // Takes a token if there is one.
  bool take(Clock::time_point now = Clock::now()) {
    const std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace chat::limits
