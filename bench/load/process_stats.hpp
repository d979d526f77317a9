// CPU time and memory of a running process, read from /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace chathost::bench {

struct ProcessSample {
  double cpu_seconds = 0;      // utime + stime, /proc/PID/stat
  std::uint64_t rss_kib = 0;   // VmRSS, /proc/PID/status
  std::uint64_t peak_kib = 0;  // VmHWM: the highest RSS so far
};

// nullopt when the process does not exist (any more) or /proc is unreadable.
std::optional<ProcessSample> sample_process(pid_t pid);

// A process to watch, from --pid NAME=PID.
struct WatchedProcess {
  std::string name;
  pid_t pid = 0;
};

}  // namespace chathost::bench
