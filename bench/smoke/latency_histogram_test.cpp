#include "latency_histogram.hpp"

#include <gtest/gtest.h>

namespace chathost::bench {
namespace {

TEST(LatencyHistogram, PercentilesAreWithinOnePercentOfTheExactValue) {
  LatencyHistogram histogram;
  for (std::int64_t us = 1; us <= 10000; ++us) histogram.record(us * 1000);  // 1 us .. 10 ms
  EXPECT_EQ(histogram.count(), 10000u);
  EXPECT_NEAR(static_cast<double>(histogram.percentile(0.50)), 5'000'000.0, 50'000.0);
  EXPECT_NEAR(static_cast<double>(histogram.percentile(0.99)), 9'900'000.0, 99'000.0);
  EXPECT_NEAR(static_cast<double>(histogram.percentile(0.999)), 9'990'000.0, 99'900.0);
  EXPECT_EQ(histogram.percentile(1.0), 10'000'000);
  EXPECT_EQ(histogram.max(), 10'000'000);
  EXPECT_EQ(histogram.min(), 1000);
  EXPECT_NEAR(histogram.mean(), 5'000'500.0, 1.0);
}

TEST(LatencyHistogram, SmallValuesAreExactAndNegativeOnesCountAsZero) {
  LatencyHistogram histogram;
  histogram.record(-5);
  histogram.record(7);
  histogram.record(200);
  EXPECT_EQ(histogram.percentile(0.0), 0);
  EXPECT_EQ(histogram.percentile(0.5), 7);
  EXPECT_EQ(histogram.percentile(1.0), 200);
}

TEST(LatencyHistogram, HugeValuesAreCappedButTheMaximumIsExact) {
  LatencyHistogram histogram;
  histogram.record(std::int64_t{1} << 50);
  EXPECT_EQ(histogram.max(), std::int64_t{1} << 50);
  EXPECT_EQ(histogram.percentile(0.5), std::int64_t{1} << 50);  // capped at max, not below the truth
}

TEST(LatencyHistogram, MergeAddsCountsAndKeepsExtremes) {
  LatencyHistogram a;
  LatencyHistogram b;
  a.record(1'000);
  b.record(3'000'000);
  b.record(2'000);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 1'000);
  EXPECT_EQ(a.max(), 3'000'000);
  EXPECT_EQ(LatencyHistogram().percentile(0.99), 0);
}

}  // namespace
}  // namespace chathost::bench
