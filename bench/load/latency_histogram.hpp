// LatencyHistogram: an HDR-style log-linear histogram of nanosecond values.
//
// Every power of two is split into 128 linear buckets, so a reported
// percentile is within 0.8% of the true value, and the memory is fixed
// (about 36 KiB) however many samples are recorded. Values from 2^40 ns
// (18 minutes) up land in the last bucket; the exact maximum is kept aside.
#pragma once

#include <array>
#include <cstdint>

namespace chathost::bench {

class LatencyHistogram {
 public:
  void record(std::int64_t nanoseconds);
  void record(std::int64_t nanoseconds, std::uint64_t times);
  void merge(const LatencyHistogram& other);

  std::uint64_t count() const { return count_; }
  std::int64_t max() const { return max_; }
  std::int64_t min() const { return count_ ? min_ : 0; }
  double mean() const;

  // The value at or below which `fraction` (0..1) of the samples lie: the
  // highest value of the bucket holding that rank, capped at max().
  std::int64_t percentile(double fraction) const;

 private:
  static constexpr int kSubBucketBits = 7;
  static constexpr int kMaxBits = 40;
  static constexpr std::size_t kBuckets = (kMaxBits - kSubBucketBits + 1) << kSubBucketBits;

  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t highest_in(std::size_t index);

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::int64_t max_ = 0;
  std::int64_t min_ = 0;
  double sum_ = 0;  // mean only: a double does not overflow
};

}  // namespace chathost::bench
