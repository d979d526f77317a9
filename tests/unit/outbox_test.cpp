// The frames waiting for one client, and their bounds, without sockets.
#include "outbox.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace chat::proxy {
namespace {

Frame frame_of(std::size_t json_bytes) { return Frame::text(std::string(json_bytes, 'x')); }

TEST(OutboxTest, FramesLeaveOldestFirstInBatchesOfAtMostTheWritesSize) {
  Outbox outbox;
  const Outbox::Limits limits{100, 1 << 20};
  std::vector<Frame> sent;
  for (std::size_t i = 1; i <= 5; ++i) {
    sent.push_back(Frame::text(std::to_string(i)));
    ASSERT_EQ(outbox.offer(sent.back(), false, limits), Outbox::Offer::queued);
  }
  std::vector<Frame> batch;
  outbox.take(batch, 3);
  ASSERT_EQ(batch.size(), 3U);
  EXPECT_EQ(batch[0].json(), "1");
  EXPECT_EQ(batch[2].json(), "3");
  EXPECT_TRUE(batch[0].shares_buffer_with(sent[0]));  // queued, not copied
  EXPECT_EQ(outbox.frames(), 2U);
  outbox.take(batch, 3);
  ASSERT_EQ(batch.size(), 5U);
  EXPECT_EQ(batch[4].json(), "5");
  EXPECT_TRUE(outbox.empty());
  EXPECT_EQ(outbox.bytes(), 0U);
}

TEST(OutboxTest, OneFrameTooManyDiscardsEverythingAndTakesNothingMore) {
  Outbox outbox;
  const Outbox::Limits limits{3, 1 << 20};
  for (int i = 0; i < 3; ++i) ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  EXPECT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::over_frames);
  EXPECT_TRUE(outbox.closed());
  EXPECT_TRUE(outbox.empty());
  EXPECT_EQ(outbox.bytes(), 0U);
  EXPECT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::closed);
  EXPECT_TRUE(outbox.empty());
}

TEST(OutboxTest, TheByteBoundCountsTheFramesOnTheWire) {
  Outbox outbox;
  const std::size_t wire = frame_of(100).wire().size();  // header and JSON
  const Outbox::Limits limits{1000, 2 * wire};
  ASSERT_EQ(outbox.offer(frame_of(100), false, limits), Outbox::Offer::queued);
  ASSERT_EQ(outbox.offer(frame_of(100), false, limits), Outbox::Offer::queued);
  EXPECT_EQ(outbox.bytes(), 2 * wire);
  EXPECT_EQ(outbox.offer(frame_of(1), false, limits), Outbox::Offer::over_bytes);
  EXPECT_TRUE(outbox.empty());
}

TEST(OutboxTest, TakenFramesNoLongerCountAgainstTheBounds) {
  Outbox outbox;
  const std::size_t wire = frame_of(100).wire().size();
  const Outbox::Limits limits{2, 2 * wire};
  ASSERT_EQ(outbox.offer(frame_of(100), false, limits), Outbox::Offer::queued);
  ASSERT_EQ(outbox.offer(frame_of(100), false, limits), Outbox::Offer::queued);
  std::vector<Frame> batch;
  outbox.take(batch, 62);
  ASSERT_EQ(outbox.offer(frame_of(100), false, limits), Outbox::Offer::queued);
  ASSERT_EQ(outbox.offer(frame_of(100), false, limits), Outbox::Offer::queued);
  EXPECT_EQ(outbox.frames(), 2U);
}

TEST(OutboxTest, AReplayCountsAgainstTheBytesButNotTheFrameBound) {
  Outbox outbox;
  const Outbox::Limits limits{2, 1 << 20};
  for (int i = 0; i < 10; ++i) ASSERT_EQ(outbox.offer(frame_of(10), true, limits), Outbox::Offer::queued);
  // Live frames still have their two places.
  ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  EXPECT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::over_frames);

  Outbox big;
  const std::size_t wire = frame_of(10).wire().size();
  EXPECT_EQ(big.offer(frame_of(10), true, {2, wire}), Outbox::Offer::queued);
  EXPECT_EQ(big.offer(frame_of(10), true, {2, wire}), Outbox::Offer::over_bytes);
}

TEST(OutboxTest, TheReplayLeavesFirstAndItsPlacesGoWithIt) {
  Outbox outbox;
  const Outbox::Limits limits{2, 1 << 20};
  for (int i = 0; i < 4; ++i) ASSERT_EQ(outbox.offer(frame_of(10), true, limits), Outbox::Offer::queued);
  ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  std::vector<Frame> batch;
  outbox.take(batch, 4);  // the replay
  // One live frame waits: one more fits, a second does not.
  ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  EXPECT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::over_frames);
}

TEST(OutboxTest, PongsOwedCountAgainstTheFrameBoundUntilAWriteCompletes) {
  Outbox outbox;
  const Outbox::Limits limits{3, 1 << 20};
  ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  EXPECT_TRUE(outbox.owe_pong(limits));
  EXPECT_TRUE(outbox.owe_pong(limits));
  // Three owed and queued: a frame more is one too many.
  EXPECT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::over_frames);

  Outbox reading;
  ASSERT_EQ(reading.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  EXPECT_TRUE(reading.owe_pong(limits));
  EXPECT_TRUE(reading.owe_pong(limits));
  reading.pongs_written();
  EXPECT_TRUE(reading.owe_pong(limits));
  EXPECT_TRUE(reading.owe_pong(limits));
  EXPECT_FALSE(reading.owe_pong(limits));  // four frames owed against three
  EXPECT_TRUE(reading.closed());
  EXPECT_TRUE(reading.empty());
}

TEST(OutboxTest, ASealedOutboxTakesNoMoreButItsFramesStillLeave) {
  Outbox outbox;
  const Outbox::Limits limits{10, 1 << 20};
  ASSERT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::queued);
  outbox.seal();
  EXPECT_EQ(outbox.offer(frame_of(10), false, limits), Outbox::Offer::closed);
  std::vector<Frame> batch;
  outbox.take(batch, 62);
  EXPECT_EQ(batch.size(), 1U);
}

}  // namespace
}  // namespace chat::proxy
