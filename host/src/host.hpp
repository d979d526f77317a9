// The host process: reads configuration, loads plugins, runs them until a
// signal or a fatal plugin error, then stops them in reverse order.
#pragma once

#include "chathost/plugin.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace chathost {

std::string host_version();

// What the command line says; anything unset comes from the configuration.
struct HostOptions {
  std::filesystem::path config_path;
  std::optional<std::filesystem::path> env_file;  // explicit --env-file
  std::optional<std::vector<std::string>> plugins;
  std::vector<std::filesystem::path> plugin_dirs;  // each --plugin-dir, searched first, in order
  std::optional<std::string> log_level;
  bool insecure = false;  // --insecure: as [host] insecure = true
  bool check_only = false;
};

// Keys of the [host] table.
std::vector<ConfigKey> host_config_keys();

// Where the host looks for things when the configuration does not say:
// relative to its own executable, identical in the build and install trees.
// The plugin folder is searched last, after the operator's own.
std::filesystem::path default_plugin_dir();
std::filesystem::path default_share_dir();
// --config default: ./config/chat.toml when present, else the shipped one.
std::filesystem::path default_config_path();

// Runs the host; returns the process exit code. Blocks SIGINT and SIGTERM
// for the whole process, so call it before starting any thread.
int run_host(const HostOptions& options);

// Prints the keys of [host] and of every plugin in the plugin folders.
int print_config_help(const HostOptions& options);

}  // namespace chathost
