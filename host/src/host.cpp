#include "host.hpp"

#include "config_source.hpp"
#include "logging.hpp"
#include "metrics_registry.hpp"
#include "plugin_library.hpp"
#include "shutdown_latch.hpp"
#include "stop_guards.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <fmt/format.h>

#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <system_error>
#include <thread>

#ifndef CHATHOST_VERSION
#define CHATHOST_VERSION "0.0.0"
#endif

namespace chathost {
namespace {

using Clock = std::chrono::steady_clock;

std::filesystem::path executable_dir() { return boost::dll::program_location().parent_path(); }

struct HostSettings {
  std::vector<std::string> plugins;
  PluginFolders plugin_folders{{}};
  std::string log_level;
  std::chrono::milliseconds stop_timeout{0};
  bool insecure = false;
};

// Everything up to configured plugins, shared by `run` and `--check`.
struct PreparedHost {
  ConfigSource config;
  HostSettings settings;
  std::string env_file;  // "" when none was read
  std::shared_ptr<MetricsRegistry> metrics;
  std::vector<LoadedPlugin> plugins;
  std::string secret;  // PluginContext::host_secret
};

// 32 bytes from the kernel's random source, as hex.
std::string make_host_secret() {
  unsigned char bytes[32];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    const auto n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    got += static_cast<std::size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret;
  for (const unsigned char byte : bytes) {
    secret.push_back(kHex[byte >> 4]);
    secret.push_back(kHex[byte & 0x0F]);
  }
  return secret;
}

std::optional<EnvFile> read_env_file(const HostOptions& options) {
  if (options.env_file) return load_env_file(*options.env_file);
  std::error_code ec;
  if (std::filesystem::exists(".env", ec)) return load_env_file(".env");
  return std::nullopt;
}

// The plugin folders, in the order they are searched: each --plugin-dir,
// CHATHOST_PLUGIN_PATH (colon-separated; empty parts are none), the
// config's plugin_dirs, and last the host's own.
PluginFolders plugin_folders(const HostOptions& options, std::optional<std::string> search_path,
                             const std::vector<std::string>& config_dirs) {
  std::vector<std::filesystem::path> folders = options.plugin_dirs;
  const std::string all = search_path.value_or("");
  for (std::string_view path = all; !path.empty();) {
    const auto colon = path.find(':');
    if (colon != 0) folders.emplace_back(path.substr(0, colon));
    path = colon == std::string_view::npos ? std::string_view{} : path.substr(colon + 1);
  }
  for (const auto& folder : config_dirs) folders.emplace_back(folder);
  folders.push_back(default_plugin_dir());
  return PluginFolders(std::move(folders));
}

HostSettings resolve_settings(const ConfigSource& config, const HostOptions& options) {
  PluginConfig table = config.resolve("host", host_config_keys());
  HostSettings settings;
  settings.plugins = options.plugins ? *options.plugins : table.get_strings("plugins");
  if (settings.plugins.empty()) table.reject("plugins", "no plugins to run; list at least one");
  for (std::size_t i = 0; i < settings.plugins.size(); ++i) {
    if (std::find(settings.plugins.begin(), settings.plugins.begin() + static_cast<std::ptrdiff_t>(i),
                  settings.plugins[i]) != settings.plugins.begin() + static_cast<std::ptrdiff_t>(i)) {
      table.reject("plugins", "plugin '" + settings.plugins[i] + "' is listed twice");
    }
  }
  const auto config_dirs = table.get_strings("plugin_dirs");
  for (const auto& folder : config_dirs) {
    if (folder.empty()) table.reject("plugin_dirs", "a folder must not be empty");
  }
  settings.plugin_folders = plugin_folders(options, config.lookup_env("CHATHOST_PLUGIN_PATH"), config_dirs);
  settings.log_level = options.log_level ? *options.log_level : table.get_string("log_level");
  settings.stop_timeout = std::chrono::milliseconds(table.get_int("stop_timeout_ms"));
  settings.insecure = options.insecure || table.get_bool("insecure");
  return settings;
}

// Returns null after logging the reason when anything is wrong. Plugins hold
// references into the result, so it stays where it was made.
std::unique_ptr<PreparedHost> prepare(const HostOptions& options, ShutdownLatch& latch,
                                    const std::shared_ptr<spdlog::logger>& log) {
  std::unique_ptr<PreparedHost> host;
  try {
    auto env_file = read_env_file(options);
    auto config = ConfigSource::from_file(options.config_path);
    if (env_file) config.set_env_file(*env_file);
    config.check_top_level();
    auto settings = resolve_settings(config, options);
    set_log_level(spdlog::level::from_str(settings.log_level));
    if (config.lookup_env("CHATHOST_PLUGIN_DIR")) {
      log->warn("CHATHOST_PLUGIN_DIR is not read any more: list plugin folders in CHATHOST_PLUGIN_PATH");
    }
    // A table may configure any plugin there is, loaded here or not (one
    // config file serves every host of a deployment); one that matches none
    // is a typo.
    std::vector<std::string> known = settings.plugin_folders.available();
    known.emplace_back("host");
    config.check_tables_known(known, "no plugin of that name in " + settings.plugin_folders.describe());
    host = std::make_unique<PreparedHost>(PreparedHost{.config = std::move(config),
                                                       .settings = std::move(settings),
                                                       .env_file = env_file ? env_file->path : "",
                                                       .metrics = std::make_shared<MetricsRegistry>(),
                                                       .plugins = {},
                                                       .secret = make_host_secret()});
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return nullptr;
  }

  for (const auto& name : host->settings.plugins) {
    try {
      if (const auto found = host->settings.plugin_folders.find(name); found && !found->hidden.empty()) {
        for (const auto& hidden : found->hidden) {
          log->warn("plugin '{}' is found twice: {} is used, {} is not", name, found->path.string(), hidden.string());
        }
      }
      host->plugins.push_back(load_plugin(host->settings.plugin_folders, name));
    } catch (const std::exception& e) {
      log->error("{}", e.what());
      return nullptr;
    }
  }

  for (auto& loaded : host->plugins) {
    try {
      Plugin& plugin = loaded.plugin();
      PluginContext context;
      context.config = host->config.resolve(loaded.name(), plugin.config_keys());
      context.logger = make_logger(loaded.name());
      context.host_version = host_version();
      context.share_dir = default_share_dir().string();
      context.env = [&config = host->config](std::string_view name) { return config.lookup_env(name); };
      context.request_shutdown = [&latch, name = loaded.name()](std::string reason) {
        latch.request("plugin '" + name + "' failed: " + reason, true);
      };
      context.metrics = host->metrics;
      context.host_secret = host->secret;
      context.insecure = host->settings.insecure;
      plugin.configure(std::move(context));
    } catch (const ConfigError& e) {
      log->error("plugin '{}': {}", loaded.name(), e.what());
      return nullptr;
    } catch (const std::exception& e) {
      log->error("plugin '{}': configure failed: {}", loaded.name(), e.what());
      return nullptr;
    }
  }
  return host;
}

std::string describe_plugins(const std::vector<LoadedPlugin>& plugins) {
  std::vector<std::string> parts;
  for (const auto& loaded : plugins) {
    auto endpoints = loaded.plugin().endpoints();
    parts.push_back(endpoints.empty() ? loaded.name() : fmt::format("{} {}", loaded.name(), fmt::join(endpoints, " ")));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

void stop_started(std::vector<LoadedPlugin>& plugins, std::size_t started, std::chrono::milliseconds limit,
                  const std::shared_ptr<spdlog::logger>& log) {
  StopWatchdog watchdog(limit, log);
  for (std::size_t i = started; i-- > 0;) {
    auto& loaded = plugins[i];
    watchdog.stopping(loaded.name());
    try {
      loaded.plugin().stop();
    } catch (const std::exception& e) {
      log->error("plugin '{}': stop failed: {}", loaded.name(), e.what());
    }
  }
}

}  // namespace

std::string host_version() { return CHATHOST_VERSION; }

std::vector<ConfigKey> host_config_keys() {
  return {
      ConfigKey::strings("plugins", {"grpc-chat", "ws-proxy", "history-http"},
                         "plugins to load, started in this order and stopped in reverse")
          .env("CHATHOST_PLUGINS"),
      ConfigKey::strings("plugin_dirs", {},
                         "more folders holding <name>.so plugins, searched after --plugin-dir and "
                         "CHATHOST_PLUGIN_PATH, before the host's own"),
      ConfigKey::string("log_level", "info", "least severe level logged")
          .one_of(kLogLevels)
          .env("CHATHOST_LOG_LEVEL"),
      ConfigKey::integer("stop_timeout_ms", 10000, "longest a stop may take before the host exits anyway")
          .range(100, 600000)
          .env("CHATHOST_STOP_TIMEOUT_MS"),
      ConfigKey::boolean("insecure", false,
                         "let WebSocket and HTTP listeners beyond loopback run open (any origin, no tokens); "
                         "they log a warning. Never in production")
          .env("CHATHOST_INSECURE"),
  };
}

std::filesystem::path default_plugin_dir() {
  return (executable_dir() / ".." / CHATHOST_PLUGIN_SUBDIR).lexically_normal();
}

std::filesystem::path default_share_dir() {
  return (executable_dir() / ".." / CHATHOST_SHARE_SUBDIR).lexically_normal();
}

std::filesystem::path default_config_path() {
  std::error_code ec;
  if (std::filesystem::exists("config/chat.toml", ec)) return "config/chat.toml";
  return default_share_dir() / "config" / "chat.toml";
}

// Every socket is a file descriptor, and the soft limit is often 1024: it is
// raised to the hard limit, so that the plugins' connection caps, not the
// kernel, decide how many clients a host holds (nginx's
// worker_rlimit_nofile does the same).
void raise_open_file_limit(const std::shared_ptr<spdlog::logger>& log) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const auto before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    log->debug("open-file limit raised from {} to {}", before, limit.rlim_cur);
  }
}

int run_host(const HostOptions& options) {
  SignalWatcher::block_in_this_thread();
  if (options.log_level) set_log_level(spdlog::level::from_str(*options.log_level));
  auto log = make_logger("host");
  ShutdownLatch latch;
  raise_open_file_limit(log);

  const auto began = Clock::now();
  auto host = prepare(options, latch, log);
  if (!host) return 1;

  if (options.check_only) {
    log->info("configuration OK: {} (plugins: {})", options.config_path.string(), describe_plugins(host->plugins));
    return 0;
  }

  SignalWatcher signals(latch, log);
  log->info("chat-host {} starting: config {}{}, plugins from {}: {}", host_version(), options.config_path.string(),
            host->env_file.empty() ? "" : ", env " + host->env_file, host->settings.plugin_folders.describe(),
            describe_plugins(host->plugins));

  std::size_t started = 0;
  for (; started < host->plugins.size(); ++started) {
    auto& loaded = host->plugins[started];
    try {
      loaded.plugin().start();
    } catch (const std::exception& e) {
      log->error("plugin '{}' failed to start: {}", loaded.name(), e.what());
      stop_started(host->plugins, started, host->settings.stop_timeout, log);
      return 1;
    }
  }

  const auto ready_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count();
  log->info("ready in {} ms: {}", ready_ms, describe_plugins(host->plugins));

  ShutdownRequest request = latch.wait();
  if (request.failure) {
    log->error("stopping: {}", request.reason);
  } else {
    log->info("stopping on {}", request.reason);
  }
  stop_started(host->plugins, started, host->settings.stop_timeout, log);
  host->plugins.clear();
  log->info("stopped");
  return request.failure ? 1 : 0;
}

int print_config_help(const HostOptions& options) {
  auto print_keys = [](const std::string& table, const std::vector<ConfigKey>& keys) {
    std::cout << "[" << table << "]\n";
    for (const auto& key : keys) {
      std::cout << "  " << key.name << " (" << type_name(key.type) << ")";
      if (key.default_value) {
        std::cout << " = ";
        std::visit(
            [](const auto& v) {
              using T = std::decay_t<decltype(v)>;
              if constexpr (std::is_same_v<T, std::string>) {
                std::cout << '"' << v << '"';
              } else if constexpr (std::is_same_v<T, bool>) {
                std::cout << (v ? "true" : "false");
              } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                std::cout << "[";
                for (std::size_t i = 0; i < v.size(); ++i) std::cout << (i ? ", " : "") << '"' << v[i] << '"';
                std::cout << "]";
              } else {
                std::cout << v;
              }
            },
            *key.default_value);
      } else {
        std::cout << " required";
      }
      if (key.min && key.max) std::cout << "  in " << *key.min << ".." << *key.max;
      if (!key.choices.empty()) std::cout << fmt::format("  one of {}", fmt::join(key.choices, ", "));
      if (!key.env_var.empty()) std::cout << "  env " << key.env_var;
      std::cout << "\n      " << key.description << "\n";
    }
    std::cout << "\n";
  };

  print_keys("host", host_config_keys());
  // No config is read here: the folders of the command line and the environment.
  const char* search_path = std::getenv("CHATHOST_PLUGIN_PATH");
  const PluginFolders folders =
      plugin_folders(options, search_path ? std::optional<std::string>(search_path) : std::nullopt, {});
  int status = 0;
  for (const auto& name : folders.available()) {
    try {
      auto loaded = load_plugin(folders, name);
      print_keys(name, loaded.plugin().config_keys());
    } catch (const std::exception& e) {
      std::cerr << e.what() << "\n";
      status = 1;
    }
  }
  return status;
}

}  // namespace chathost
