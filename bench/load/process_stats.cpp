#include "process_stats.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace chathost::bench {

namespace {

std::optional<double> cpu_seconds(pid_t pid) {
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: the
  // fields are counted from the last ')'. utime and stime are fields 14, 15.
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  for (int index = 3; index <= 13; ++index) rest >> field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (!(rest >> utime >> stime)) return std::nullopt;
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return static_cast<double>(utime + stime) / ticks;
}

}  // namespace

std::optional<ProcessSample> sample_process(pid_t pid) {
  auto cpu = cpu_seconds(pid);
  if (!cpu) return std::nullopt;
  ProcessSample sample;
  sample.cpu_seconds = *cpu;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      status >> sample.rss_kib;
    } else if (key == "VmHWM:") {
      status >> sample.peak_kib;
    }
    status.ignore(4096, '\n');
  }
  return sample;
}

}  // namespace chathost::bench
