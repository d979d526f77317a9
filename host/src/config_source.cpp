#include "config_source.hpp"
#include "text_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>

namespace chathost {
namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string describe(const toml::node& node) {
  if (auto s = node.value<std::string>(); s && node.is_string()) return "string " + in_quotes(*s);
  if (node.is_integer()) return "integer " + std::to_string(*node.value<std::int64_t>());
  if (node.is_floating_point()) return "number " + std::to_string(*node.value<double>());
  if (node.is_boolean()) return std::string("boolean ") + (*node.value<bool>() ? "true" : "false");
  if (node.is_array()) return "an array";
  if (node.is_table()) return "a table";
  return "a date/time";
}

std::string expected(const ConfigKey& key) {
  std::string text(type_name(key.type));
  if (key.type == ValueType::Integer && key.min && key.max) {
    text += " in " + std::to_string(*key.min) + ".." + std::to_string(*key.max);
  } else if (key.type == ValueType::Integer && key.min) {
    text += " >= " + std::to_string(*key.min);
  }
  if (!key.choices.empty()) {
    std::vector<std::string> q;
    for (const auto& c : key.choices) q.push_back(in_quotes(c));
    text = fmt::format("one of {}", fmt::join(q, ", "));
  }
  return text;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// Text from the environment or .env, converted to the key's type.
std::optional<Value> from_text(const ConfigKey& key, std::string_view text) {
  switch (key.type) {
    case ValueType::String:
      return Value{std::string(text)};
    case ValueType::Integer: {
      std::string t = trimmed(text);
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc{} || end != t.data() + t.size() || t.empty()) return std::nullopt;
      return Value{v};
    }
    case ValueType::Boolean: {
      std::string t = lower(trimmed(text));
      if (t == "true" || t == "1" || t == "yes" || t == "on") return Value{true};
      if (t == "false" || t == "0" || t == "no" || t == "off") return Value{false};
      return std::nullopt;
    }
    case ValueType::Double: {
      std::string t = trimmed(text);
      if (t.empty()) return std::nullopt;
      char* end = nullptr;
      errno = 0;
      double v = std::strtod(t.c_str(), &end);
      if (errno != 0 || end != t.c_str() + t.size()) return std::nullopt;
      return Value{v};
    }
    case ValueType::StringList: {
      std::vector<std::string> items;
      std::string_view rest = text;
      while (!rest.empty()) {
        std::size_t comma = rest.find(',');
        std::string item = trimmed(rest.substr(0, comma));
        if (!item.empty()) items.push_back(std::move(item));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      return Value{std::move(items)};
    }
  }
  return std::nullopt;
}

std::optional<Value> from_toml(const ConfigKey& key, const toml::node& node) {
  switch (key.type) {
    case ValueType::String:
      if (node.is_string()) return Value{*node.value<std::string>()};
      break;
    case ValueType::Integer:
      if (node.is_integer()) return Value{*node.value<std::int64_t>()};
      break;
    case ValueType::Boolean:
      if (node.is_boolean()) return Value{*node.value<bool>()};
      break;
    case ValueType::Double:
      // value<double>() is empty for an integer beyond 2^53: convert it ourselves.
      if (node.is_integer()) return Value{static_cast<double>(*node.value<std::int64_t>())};
      if (node.is_floating_point()) return Value{*node.value<double>()};
      break;
    case ValueType::StringList:
      if (const auto* array = node.as_array()) {
        std::vector<std::string> items;
        for (const auto& element : *array) {
          if (!element.is_string()) return std::nullopt;
          items.push_back(*element.value<std::string>());
        }
        return Value{std::move(items)};
      }
      break;
  }
  return std::nullopt;
}

// Range and choice checks shared by every source; empty when the value is fine.
std::optional<std::string> violates(const ConfigKey& key, const Value& value) {
  if (const auto* i = std::get_if<std::int64_t>(&value)) {
    if ((key.min && *i < *key.min) || (key.max && *i > *key.max)) {
      return "expected " + expected(key) + ", got " + std::to_string(*i);
    }
  }
  if (const auto* s = std::get_if<std::string>(&value); s && !key.choices.empty()) {
    if (std::find(key.choices.begin(), key.choices.end(), *s) == key.choices.end()) {
      return "expected " + expected(key) + ", got " + in_quotes(*s);
    }
  }
  return std::nullopt;
}

}  // namespace

EnvironmentLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    if (const char* value = std::getenv(std::string(name).c_str())) return std::string(value);
    return std::nullopt;
  };
}

ConfigSource ConfigSource::from_file(const std::filesystem::path& path) {
  const auto file = detail::read_text_file(path);
  if (!file.error.empty()) throw ConfigError("cannot read config file " + path.string() + ": " + file.error);
  return from_string(file.text, path.string());
}

ConfigSource ConfigSource::from_string(std::string_view toml_text, std::string path) {
  try {
    // Parse first: the order in which arguments are evaluated is unspecified,
    // and `path` must not be moved from before the catch below reads it.
    toml::table root = toml::parse(toml_text, path);
    return ConfigSource(std::move(root), std::move(path));
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw ConfigError(path + ":" + std::to_string(begin.line) + ":" + std::to_string(begin.column) +
                      ": invalid TOML: " + std::string(e.description()));
  }
}

std::string ConfigSource::where(const toml::node& node) const {
  return path_ + ":" + std::to_string(node.source().begin.line);
}

std::optional<std::string> ConfigSource::lookup_env(std::string_view name) const {
  if (environment_) {
    if (auto value = environment_(name)) return value;
  }
  if (env_file_) {
    if (auto it = env_file_->values.find(name); it != env_file_->values.end()) return it->second.value;
  }
  return std::nullopt;
}

std::vector<std::string> ConfigSource::table_names() const {
  // toml::table iterates in key order; sort by where each table begins.
  std::vector<std::pair<toml::source_position, std::string>> tables;
  for (const auto& [name, node] : root_) {
    if (node.is_table()) tables.emplace_back(node.source().begin, name.str());
  }
  std::stable_sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line : a.first.column < b.first.column;
  });
  std::vector<std::string> names;
  for (auto& table : tables) names.push_back(std::move(table.second));
  return names;
}

void ConfigSource::check_top_level() const {
  for (const auto& [name, node] : root_) {
    if (!node.is_table()) {
      throw ConfigError(where(node) + ": key " + std::string(name.str()) +
                        " is outside any table; put it under [host] or a plugin's table");
    }
  }
}

void ConfigSource::check_tables_known(const std::vector<std::string>& known, std::string_view hint) const {
  for (const auto& [name, node] : root_) {
    if (!node.is_table()) continue;
    std::string table(name.str());
    if (std::find(known.begin(), known.end(), table) == known.end()) {
      throw ConfigError(where(node) + ": unknown table [" + table + "]: " + std::string(hint));
    }
  }
}

PluginConfig ConfigSource::resolve(const std::string& table, const std::vector<ConfigKey>& keys) const {
  const toml::table* values = nullptr;
  if (const toml::node* node = root_.get(table)) {
    values = node->as_table();
    if (values == nullptr) throw ConfigError(where(*node) + ": " + table + " must be a table");
  }

  if (values != nullptr) {
    for (const auto& [name, node] : *values) {
      auto declared = std::find_if(keys.begin(), keys.end(),
                                   [&name = name](const ConfigKey& k) { return k.name == name.str(); });
      if (declared == keys.end()) {
        std::vector<std::string> names;
        for (const auto& k : keys) names.push_back(k.name);
        throw ConfigError(where(node) + ": [" + table + "] unknown key " + std::string(name.str()) +
                          " (known keys: " + fmt::format("{}", fmt::join(names, ", ")) + ")");
      }
    }
  }

  std::map<std::string, ConfigEntry, std::less<>> entries;
  for (const auto& key : keys) {
    std::optional<ConfigEntry> entry;
    const std::string prefix_key = "[" + table + "] " + key.name;

    // Environment first, then .env: each names the variable it came from.
    if (!key.env_var.empty()) {
      std::optional<std::string> text;
      std::string origin;
      if (environment_) text = environment_(key.env_var);
      if (text) {
        origin = "environment variable " + key.env_var;
      } else if (env_file_) {
        if (auto it = env_file_->values.find(key.env_var); it != env_file_->values.end()) {
          text = it->second.value;
          origin = env_file_->path + ":" + std::to_string(it->second.line) + ": " + key.env_var;
        }
      }
      if (text) {
        auto value = from_text(key, *text);
        if (!value) {
          throw ConfigError(origin + ": " + prefix_key + ": expected " + expected(key) + ", got " +
                            in_quotes(*text));
        }
        entry = ConfigEntry{std::move(*value), origin};
      }
    }

    if (!entry && values != nullptr) {
      if (const toml::node* node = values->get(key.name)) {
        auto value = from_toml(key, *node);
        if (!value) {
          throw ConfigError(where(*node) + ": " + prefix_key + ": expected " +
                            std::string(type_name(key.type)) + ", got " + describe(*node));
        }
        entry = ConfigEntry{std::move(*value), where(*node)};
      }
    }

    if (!entry) {
      if (!key.default_value) {
        throw ConfigError(path_ + ": " + prefix_key + ": missing required key (" +
                          std::string(type_name(key.type)) + ": " + key.description + ")");
      }
      entry = ConfigEntry{*key.default_value, path_ + " (default)"};
    }

    if (auto problem = violates(key, entry->value)) {
      throw ConfigError(entry->origin + ": " + prefix_key + ": " + *problem);
    }
    entries.emplace(key.name, std::move(*entry));
  }
  return PluginConfig(table, std::move(entries));
}

}  // namespace chathost
