// The layered configuration: a TOML file, then a .env file, then the real
// environment (highest). Resolves one table against the keys its owner
// declared, and phrases every problem as "where: [table] key: what was expected".
#pragma once

#include "chathost/plugin.hpp"
#include "env_file.hpp"

#include <toml++/toml.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chathost {

using EnvironmentLookup = std::function<std::optional<std::string>(std::string_view)>;

// The process environment (getenv).
EnvironmentLookup process_environment();

class ConfigSource {
 public:
  // Throws ConfigError when the file cannot be read or is not valid TOML.
  static ConfigSource from_file(const std::filesystem::path& path);
  // `path` only names the source in messages.
  static ConfigSource from_string(std::string_view toml_text, std::string path);

  void set_env_file(EnvFile env_file) { env_file_ = std::move(env_file); }
  void set_environment(EnvironmentLookup environment) { environment_ = std::move(environment); }

  const std::string& path() const { return path_; }

  // A variable from the environment, else from the .env file.
  std::optional<std::string> lookup_env(std::string_view name) const;

  // Top-level tables present in the file, in file order.
  std::vector<std::string> table_names() const;

  // Checks `table` against `keys` and applies overrides. Throws ConfigError
  // for an unknown key, a wrong type, a value out of range or a missing
  // required key. A missing table means "all defaults".
  PluginConfig resolve(const std::string& table, const std::vector<ConfigKey>& keys) const;

  // Throws ConfigError for anything at top level that is not a table.
  void check_top_level() const;

  // Throws ConfigError naming the first table whose name is not in `known`.
  void check_tables_known(const std::vector<std::string>& known, std::string_view hint) const;

 private:
  ConfigSource(toml::table root, std::string path) : root_(std::move(root)), path_(std::move(path)) {}

  std::string where(const toml::node& node) const;

  toml::table root_;
  std::string path_;
  std::optional<EnvFile> env_file_;
  EnvironmentLookup environment_ = process_environment();
};

}  // namespace chathost
