#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace chathost::bench {

namespace {
constexpr std::uint64_t kSubBuckets = std::uint64_t{1} << 7;
}

// Values below 2 * kSubBuckets have a bucket each; above, a value with its
// highest bit at position `msb` keeps its top 8 bits: bucket
// (shift + 1) * 128 + (those bits - 128), where shift = msb - 7.
std::size_t LatencyHistogram::index_of(std::uint64_t value) {
  static_assert(kSubBuckets == (std::uint64_t{1} << kSubBucketBits));
  const std::uint64_t capped = std::min<std::uint64_t>(value, (std::uint64_t{1} << kMaxBits) - 1);
  if (capped < 2 * kSubBuckets) return static_cast<std::size_t>(capped);
  const int msb = std::bit_width(capped) - 1;
  const int shift = msb - kSubBucketBits;
  return static_cast<std::size_t>(shift + 1) * kSubBuckets + ((capped >> shift) - kSubBuckets);
}

std::uint64_t LatencyHistogram::highest_in(std::size_t index) {
  if (index < 2 * kSubBuckets) return index;
  const int shift = static_cast<int>(index / kSubBuckets) - 1;
  const std::uint64_t top = index % kSubBuckets + kSubBuckets;
  return ((top + 1) << shift) - 1;
}

void LatencyHistogram::record(std::int64_t nanoseconds) { record(nanoseconds, 1); }

void LatencyHistogram::record(std::int64_t nanoseconds, std::uint64_t times) {
  if (times == 0) return;
  // A negative value (clock read on another core a hair earlier) counts as 0.
  const std::int64_t value = std::max<std::int64_t>(nanoseconds, 0);
  buckets_[index_of(static_cast<std::uint64_t>(value))] += times;
  if (count_ == 0 || value < min_) min_ = value;
  max_ = std::max(max_, value);
  count_ += times;
  sum_ += static_cast<double>(value) * static_cast<double>(times);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

double LatencyHistogram::mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }

std::int64_t LatencyHistogram::percentile(double fraction) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(fraction, 0.0, 1.0);
  // The rank of the sample (1-based) that the percentile names.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(clamped * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      // The last bucket holds everything from 2^40 ns up: only max() says how far.
      if (i == kBuckets - 1) return max_;
      return std::min<std::int64_t>(static_cast<std::int64_t>(highest_in(i)), max_);
    }
  }
  return max_;
}

}  // namespace chathost::bench
