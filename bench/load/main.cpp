// chat-load: the bench suite's WebSocket load generator. See --help.
#include "load_options.hpp"
#include "load_report.hpp"
#include "load_run.hpp"

#include <sys/resource.h>

#include <cstdint>
#include <exception>
#include <iostream>

namespace {

// One descriptor per connection: ask for the hard limit up front, and say
// so when it is too low rather than fail connection by connection.
bool raise_open_files_limit(std::uint32_t connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return true;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  constexpr rlim_t kSpare = 64;  // stdio, eventfds, /proc files
  if (limit.rlim_cur != RLIM_INFINITY && connections + kSpare > limit.rlim_cur) {
    std::cerr << "chat-load: " << connections << " connections need more than the " << limit.rlim_cur
              << " open files this process may have; run several chat-load processes (see --help)\n";
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace chathost::bench;
  CommandLine command;
  try {
    command = parse_command_line(argc, argv);
  } catch (const UsageError& e) {
    std::cerr << "chat-load: " << e.what() << "\n(chat-load --help lists the options)\n";
    return 2;
  }
  if (command.help) {
    std::cout << command.help_text;
    return 0;
  }
  if (!raise_open_files_limit(command.options.clients)) return 2;
  try {
    auto result = run_load(command.options);
    if (command.options.json) {
      print_table(std::cerr, result);
      std::cout << json_line(result) << std::endl;
    } else {
      print_table(std::cout, result);
    }
  } catch (const std::exception& e) {
    std::cerr << "chat-load: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
