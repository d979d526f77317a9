#include "logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <mutex>

namespace chathost {
namespace {

std::shared_ptr<spdlog::sinks::sink> shared_sink() {
  static auto sink = [] {
    auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    s->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5!l%$ [%n] %v");
    return s;
  }();
  return sink;
}

std::mutex level_mutex;
spdlog::level::level_enum current_level = spdlog::level::info;

}  // namespace

std::shared_ptr<spdlog::logger> make_logger(const std::string& name) {
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, shared_sink());
  {
    std::lock_guard lock(level_mutex);
    logger->set_level(current_level);
  }
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

void set_log_level(spdlog::level::level_enum level) {
  std::lock_guard lock(level_mutex);
  current_level = level;
  spdlog::set_level(level);  // every registered logger
}

}  // namespace chathost
