// chat-load's command line: what to run, against what, for how long.
#pragma once

#include "process_stats.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace chathost::bench {

enum class Mode {
  FanOut,  // clients in rooms, senders at a rate: deliveries and latency
  Idle,    // hold connections with pings: memory per connection
  Seed,    // put messages into one room's history, then exit
};

struct LoadOptions {
  Mode mode = Mode::FanOut;
  std::vector<std::string> urls{"ws://127.0.0.1:8080/"};
  std::vector<std::string> source_addresses;  // empty: the kernel picks
  std::uint32_t clients = 100;
  std::uint32_t rooms = 10;
  std::uint32_t senders = 0;  // 0: every client sends
  double rate = 1000;         // messages per second, all senders together
  std::size_t size = 100;     // bytes of content per message
  double warmup_s = 2;
  double duration_s = 10;
  double drain_s = 5;  // longest wait for late deliveries after the window
  double report_every_s = 0;  // > 0: figures of each such interval of the window, as it runs
  unsigned threads = 1;
  double connect_timeout_s = 60;
  std::uint32_t connect_concurrency = 200;  // connection attempts in flight
  std::string room_prefix = "room-";
  std::string sender_prefix = "client-";
  std::uint32_t client_offset = 0;  // first client number, for several generators
  // Idle mode
  double hold_s = 10;
  double ping_interval_s = 10;
  bool idle_join = false;
  // Seed mode
  std::string seed_room;
  std::uint32_t seed_count = 0;

  std::vector<WatchedProcess> processes;
  bool json = false;
};

// A command line that cannot be run; what() says why.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  LoadOptions options;
  bool help = false;
  std::string help_text;
};

// Throws UsageError for unknown options and values out of range.
CommandLine parse_command_line(int argc, const char* const* argv);

}  // namespace chathost::bench
