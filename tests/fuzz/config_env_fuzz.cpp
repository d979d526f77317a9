// The configuration loader: a .env file (parse_env_file) and a TOML file
// (ConfigSource) layered for one table of declared keys, as the host
// resolves a plugin's table. The input is the .env text, a line "%%", then
// the TOML text; the environment is fixed (ADMIN_NAME only).
//
// Properties:
//  - a .env file that parses has only well-formed names, and its values
//    round-trip through a re-rendered file (KEY="escaped value");
//  - a .env error names the file and the line;
//  - a table that resolves has every declared key with its declared type,
//    within its range or choices, from the highest source that sets it
//    (environment, then .env, then TOML, then the default), and says where
//    it came from;
//  - a ConfigError names where the bad value came from and the table;
//  - nothing but ConfigError and EnvFileError is thrown.
#include "fuzz_check.hpp"

#include "config_source.hpp"
#include "env_file.hpp"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using chathost::ConfigError;
using chathost::ConfigKey;
using chathost::EnvFile;
using chathost::EnvFileError;
using chathost::ValueType;

constexpr std::string_view kSeparator = "\n%%\n";
const std::string kEnvPath = "fuzz.env";
const std::string kTomlPath = "fuzz.toml";
const std::string kTable = "chat";

std::vector<ConfigKey> declared_keys() {
  return {
      ConfigKey::string("host", "localhost", "host of the chat service").env("GRPC_HOST"),
      ConfigKey::integer("port", 50051, "port of the chat service").range(1, 65535).env("GRPC_PORT"),
      ConfigKey::string("store", "sqlite", "where messages go").one_of({"sqlite", "memory"}).env("CHAT_STORE"),
      ConfigKey::boolean("verbose", false, "log more").env("CHAT_VERBOSE"),
      ConfigKey::number("ratio", 0.5, "a fraction").env("CHAT_RATIO"),
      ConfigKey::strings("origins", {"http://localhost"}, "allowed origins").env("CHAT_ORIGINS"),
      ConfigKey::string("admin_name", "admin", "name of the administrator").env("ADMIN_NAME"),
      ConfigKey::integer("limit", 10, "any integer"),
      ConfigKey::required("admin_id", ValueType::String, "id of the administrator").env("ADMIN_ID"),
  };
}

std::optional<std::string> environment(std::string_view name) {
  if (name == "ADMIN_NAME") return std::string("from-environment");
  return std::nullopt;
}

bool is_env_name(std::string_view name) {
  auto start = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  auto rest = [&](char c) { return start(c) || (c >= '0' && c <= '9') || c == '.' || c == '-'; };
  return !name.empty() && start(name.front()) && std::all_of(name.begin(), name.end(), rest);
}

std::string render_env_file(const EnvFile& file) {
  std::string text;
  for (const auto& [name, entry] : file.values) {
    text += name + "=\"";
    for (char c : entry.value) {
      switch (c) {
        case '\n': text += "\\n"; break;
        case '\r': text += "\\r"; break;
        case '\t': text += "\\t"; break;
        case '"': text += "\\\""; break;
        case '\\': text += "\\\\"; break;
        default: text += c; break;
      }
    }
    text += "\"\n";
  }
  return text;
}

std::optional<EnvFile> check_env_file(std::string_view text) {
  EnvFile file;
  try {
    file = chathost::parse_env_file(text, kEnvPath);
  } catch (const EnvFileError& e) {
    FUZZ_CHECK(std::string_view(e.what()).starts_with(kEnvPath + ":"));
    return std::nullopt;
  }
  for (const auto& [name, entry] : file.values) {
    FUZZ_CHECK(is_env_name(name));
    FUZZ_CHECK(entry.line >= 1);
  }
  const EnvFile again = chathost::parse_env_file(render_env_file(file), kEnvPath);
  FUZZ_CHECK(again.values.size() == file.values.size());
  for (const auto& [name, entry] : file.values) {
    const auto it = again.values.find(name);
    FUZZ_CHECK(it != again.values.end());
    FUZZ_CHECK(it->second.value == entry.value);
  }
  return file;
}

chathost::Value value_of(const ConfigKey& key, const chathost::PluginConfig& config) {
  switch (key.type) {
    case ValueType::String: return config.get_string(key.name);
    case ValueType::Integer: return config.get_int(key.name);
    case ValueType::Boolean: return config.get_bool(key.name);
    case ValueType::Double: return config.get_double(key.name);
    case ValueType::StringList: return config.get_strings(key.name);
  }
  return {};
}

bool is_trimmed_item(const std::string& item) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  return !item.empty() && !space(item.front()) && !space(item.back()) && item.find(',') == std::string::npos;
}

// One resolved key: its declared type (the getters throw std::logic_error
// otherwise), range and choices, and the source it came from.
void check_entry(const ConfigKey& key, const chathost::PluginConfig& config, const std::optional<EnvFile>& env) {
  const chathost::Value value = value_of(key, config);
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    FUZZ_CHECK(!key.min || *i >= *key.min);
    FUZZ_CHECK(!key.max || *i <= *key.max);
  }
  if (const auto* s = std::get_if<std::string>(&value); s && !key.choices.empty()) {
    FUZZ_CHECK(std::find(key.choices.begin(), key.choices.end(), *s) != key.choices.end());
  }

  const std::string& origin = config.origin(key.name);
  if (auto text = key.env_var.empty() ? std::nullopt : environment(key.env_var)) {
    FUZZ_CHECK(origin == "environment variable " + key.env_var);
    if (key.type == ValueType::String) FUZZ_CHECK(std::get<std::string>(value) == *text);
    return;
  }
  const chathost::EnvValue* from_env_file = nullptr;
  if (env && !key.env_var.empty()) {
    if (const auto it = env->values.find(key.env_var); it != env->values.end()) from_env_file = &it->second;
  }
  if (from_env_file != nullptr) {
    FUZZ_CHECK(origin == kEnvPath + ":" + std::to_string(from_env_file->line) + ": " + key.env_var);
    if (key.type == ValueType::String) FUZZ_CHECK(std::get<std::string>(value) == from_env_file->value);
    if (key.type == ValueType::StringList) {
      const auto& items = std::get<std::vector<std::string>>(value);
      FUZZ_CHECK(std::all_of(items.begin(), items.end(), is_trimmed_item));
    }
    return;
  }
  if (origin == kTomlPath + " (default)") {
    FUZZ_CHECK(key.default_value.has_value() && *key.default_value == value);
  } else {
    FUZZ_CHECK(origin.starts_with(kTomlPath + ":"));
  }
}

void check_config(std::string_view toml_text, const std::optional<EnvFile>& env) {
  const std::vector<ConfigKey> keys = declared_keys();
  try {
    auto source = chathost::ConfigSource::from_string(toml_text, kTomlPath);
    source.set_environment(environment);
    if (env) source.set_env_file(*env);

    const std::vector<std::string> tables = source.table_names();
    FUZZ_CHECK(std::set<std::string>(tables.begin(), tables.end()).size() == tables.size());
    try {
      source.check_top_level();
      source.check_tables_known({kTable, "host"}, "known tables: [chat], [host]");
    } catch (const ConfigError& e) {
      FUZZ_CHECK(std::string_view(e.what()).starts_with(kTomlPath + ":"));
    }

    const chathost::PluginConfig config = source.resolve(kTable, keys);
    FUZZ_CHECK(config.table() == kTable);
    for (const auto& key : keys) check_entry(key, config, env);
  } catch (const ConfigError& e) {
    const std::string_view what = e.what();
    FUZZ_CHECK(what.starts_with(kTomlPath + ":") || what.starts_with(kEnvPath + ":") ||
               what.starts_with("environment variable "));
    // Past the TOML syntax, every problem names the table.
    FUZZ_CHECK(what.find("invalid TOML") != std::string_view::npos || what.find(kTable) != std::string_view::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t separator = input.find(kSeparator);
  const std::string_view env_text = input.substr(0, separator);
  const std::string_view toml_text =
      separator == std::string_view::npos ? std::string_view{} : input.substr(separator + kSeparator.size());

  const std::optional<EnvFile> env = check_env_file(env_text);
  check_config(toml_text, env);
  return 0;
}
