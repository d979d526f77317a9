#include "logging.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <array>
#include <mutex>
#include <string_view>

namespace chathost {
namespace {

// The level in five columns, as a word ("warn ", "crit "), so that every
// message starts in the same column and no level is cut mid-word.
class LevelWord final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr std::array<std::string_view, 7> kWords{"trace", "debug", "info ", "warn ",
                                                            "error", "crit ", "off  "};
    const auto word = kWords[static_cast<std::size_t>(msg.level)];
    dest.append(word.data(), word.data() + word.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelWord>(); }
};

std::shared_ptr<spdlog::sinks::sink> shared_sink() {
  static auto sink = [] {
    auto s = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<LevelWord>('*').set_pattern("%Y-%m-%d %H:%M:%S.%e %^%*%$ [%n] %v");
    s->set_formatter(std::move(formatter));
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
