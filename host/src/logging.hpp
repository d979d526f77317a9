// Every logger of the process writes to one stderr sink with one pattern; a
// plugin's logger carries the plugin's name.
#pragma once

#include <spdlog/logger.h>

#include <memory>
#include <string>
#include <vector>

namespace chathost {

// The levels --log-level and [host] log_level take, least severe first.
inline const std::vector<std::string> kLogLevels{"trace", "debug", "info", "warn", "error", "critical", "off"};

std::shared_ptr<spdlog::logger> make_logger(const std::string& name);

// Applies to every logger made so far and every one made later.
void set_log_level(spdlog::level::level_enum level);

}  // namespace chathost
