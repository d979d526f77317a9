// How a chat-load run is shown: a table for people, one JSON line for scripts.
#pragma once

#include "load_run.hpp"

#include <ostream>
#include <string>

namespace chathost::bench {

void print_table(std::ostream& out, const RunResult& result);

// One line, no newline. Keys: see docs/performance.md ("chat-load JSON").
std::string json_line(const RunResult& result);

}  // namespace chathost::bench
