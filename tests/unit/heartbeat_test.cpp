// ws-proxy's heartbeat (heartbeat.hpp): what a connection's timer does when,
// on a clock the test moves.
#include "heartbeat.hpp"

#include <gtest/gtest.h>

namespace chat::proxy {
namespace {

using namespace std::chrono_literals;
using Due = Heartbeat::Due;

const Heartbeat::Clock::time_point t0{};

TEST(Heartbeat, ASilentClientIsPingedOnceAtHalfTheIdleTimeoutAndDroppedAtAllOfIt) {
  Heartbeat heartbeat(300s, std::nullopt, t0);
  EXPECT_EQ(heartbeat.next_check(t0), std::optional<Heartbeat::Clock::duration>(75s));
  EXPECT_EQ(heartbeat.check(t0 + 75s), Due::nothing);
  EXPECT_EQ(heartbeat.check(t0 + 150s), Due::ping);
  EXPECT_EQ(heartbeat.check(t0 + 225s), Due::nothing);  // pinged already
  EXPECT_EQ(heartbeat.check(t0 + 300s), Due::drop_silent);
}

TEST(Heartbeat, BeingHeardStartsTheSilenceAgainAndAllowsAnotherPing) {
  Heartbeat heartbeat(300s, std::nullopt, t0);
  EXPECT_EQ(heartbeat.check(t0 + 160s), Due::ping);
  heartbeat.heard(t0 + 200s);  // the pong
  EXPECT_EQ(heartbeat.check(t0 + 300s), Due::nothing);
  EXPECT_EQ(heartbeat.check(t0 + 350s), Due::ping);
  EXPECT_EQ(heartbeat.check(t0 + 499s), Due::nothing);
  EXPECT_EQ(heartbeat.check(t0 + 500s), Due::drop_silent);
}

TEST(Heartbeat, ATokensExpiryComesFirstAndIsWokenForOnTime) {
  Heartbeat heartbeat(300s, t0 + 10s, t0);
  EXPECT_EQ(heartbeat.next_check(t0), std::optional<Heartbeat::Clock::duration>(10s));
  EXPECT_EQ(heartbeat.check(t0 + 9s), Due::nothing);
  EXPECT_EQ(heartbeat.check(t0 + 10s), Due::token_expired);
  EXPECT_EQ(heartbeat.next_check(t0 + 20s), std::optional<Heartbeat::Clock::duration>(0s));
}

TEST(Heartbeat, WithoutAnIdleTimeoutOrATokenNothingIsEverDue) {
  Heartbeat heartbeat(0s, std::nullopt, t0);
  EXPECT_EQ(heartbeat.next_check(t0), std::nullopt);
  EXPECT_EQ(heartbeat.check(t0 + 100000h), Due::nothing);
}

}  // namespace
}  // namespace chat::proxy
