// When a connection's timer has something to do: ping a client silent for
// half the idle timeout (once per silence), drop one silent for all of it,
// close one whose token has expired. Pure: the session tells it when the
// client was heard and asks what is due and when to look again.
#pragma once

#include <chrono>
#include <optional>

namespace chat::proxy {

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Due { nothing, ping, drop_silent, token_expired };

  // `idle_timeout` zero: no pings and no drops for silence.
  Heartbeat(Clock::duration idle_timeout, std::optional<Clock::time_point> token_expires, Clock::time_point now)
      : idle_(idle_timeout), token_expires_(token_expires), last_heard_(now) {}

  // Bytes came from the client: it is not silent, and may be pinged again later.
  void heard(Clock::time_point now) {
    last_heard_ = now;
    pinged_ = false;
  }

  // What is due now; a ping is due once per silence.
  Due check(Clock::time_point now) {
    if (token_expires_ && now >= *token_expires_) return Due::token_expired;
    if (idle_.count() <= 0) return Due::nothing;
    const auto silent = now - last_heard_;
    if (silent >= idle_) return Due::drop_silent;  // not even a pong for the second half
    if (silent >= idle_ / 2 && !pinged_) {
      pinged_ = true;
      return Due::ping;
    }
    return Due::nothing;
  }

  // How long until check() should run again: a few times per idle timeout
  // (to ping, then to drop), and when the token expires. nullopt: never.
  std::optional<Clock::duration> next_check(Clock::time_point now) const {
    std::optional<Clock::duration> next;
    if (idle_.count() > 0) next = idle_ / 4;
    if (token_expires_) {
      const auto until_expiry = std::max<Clock::duration>(*token_expires_ - now, Clock::duration::zero());
      next = next ? std::min(*next, until_expiry) : until_expiry;
    }
    return next;
  }

  Clock::duration idle_timeout() const { return idle_; }

 private:
  Clock::duration idle_;
  std::optional<Clock::time_point> token_expires_;
  Clock::time_point last_heard_;
  bool pinged_ = false;  // a ping went out since the client was last heard
};

}  // namespace chat::proxy
