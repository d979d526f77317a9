// What an acceptor does when accept fails (out of file descriptors, most
// often), or it refuses sockets for want of descriptors: wait a little
// before the next try instead of spinning, and say so in the log at most
// once a second, with the count of failures since.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace chat::limits {

class AcceptBackoff {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kRetry{100};

  // One failure, `why` said in full: the log line to write now, or nullopt
  // within a second of the last one.
  std::optional<std::string> failed(const std::string& why, Clock::time_point now = Clock::now()) {
    ++failures_;
    if (logged_ && now - *logged_ < std::chrono::seconds(1)) return std::nullopt;
    logged_ = now;
    std::string line = why;
    if (failures_ > 1) line += " (" + std::to_string(failures_) + " failures since the last report)";
    failures_ = 0;
    return line;
  }

 private:
  std::optional<Clock::time_point> logged_;
  std::size_t failures_ = 0;
};

}  // namespace chat::limits
