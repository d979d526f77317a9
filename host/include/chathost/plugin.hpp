// chathost/plugin.hpp: the whole contract between the chat-host process and
// its plugins. A plugin includes this header, implements chathost::Plugin and
// exports it with CHATHOST_PLUGIN(ClassName). Nothing else of the host is
// visible to it.
//
// Lifecycle, driven by the host, one thread at a time:
//
//   create       the host checks the library's API version, then calls its factory
//   config_keys  the plugin declares its keys; the host checks the plugin's
//                table against them (unknown key, wrong type, missing required
//                key all stop the host before any plugin starts)
//   configure    the plugin reads its values and rejects bad ones with
//                config.reject(key, why); it opens no port here, so
//                `chat-host --check` can configure every plugin safely
//   start        open ports, start threads; throw to fail the whole host
//   stop         close everything and return; called in reverse start order,
//                only for plugins whose start() returned
//   destroy      the host keeps the library loaded until the object is gone
//
// Versioning: the host refuses a plugin whose major version differs from its
// own or whose minor version is newer. Within one major version the host only
// appends members to the structs below, never reorders or removes them.
#pragma once

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <variant>
#include <vector>

namespace chathost {

struct ApiVersion {
  std::uint32_t major;
  std::uint32_t minor;
};

// 2.0: the administrator's identity left the host for the plugin that serves
// it, and PluginContext lost its `admin` member; a ConfigKey may be bound to
// an options field (into). Plugins built for 1.x must be rebuilt.
inline constexpr ApiVersion kApiVersion{2, 0};

// ---------------------------------------------------------------------------
// Configuration

enum class ValueType { String, Integer, Boolean, Double, StringList };

using Value = std::variant<std::string, std::int64_t, bool, double, std::vector<std::string>>;

inline std::string_view type_name(ValueType type) {
  switch (type) {
    case ValueType::String: return "string";
    case ValueType::Integer: return "integer";
    case ValueType::Boolean: return "boolean";
    case ValueType::Double: return "number";
    case ValueType::StringList: return "list of strings";
  }
  return "?";
}

// One key of a plugin's config table: what `chat-host --help-config` lists and
// what the host validates before configure(). Build with the static helpers:
//   ConfigKey::integer("port", 7070, "TCP port to listen on").range(0, 65535).env("MY_PORT")
// and bind it to the field of the plugin's options that takes its value, so
// that the default lives here only (PluginConfig::apply fills the field):
//   ConfigKey::integer("port", 7070, "TCP port to listen on").range(0, 65535).into(&MyOptions::port)
struct BOOST_SYMBOL_VISIBLE ConfigKey {
  std::string name;
  ValueType type = ValueType::String;
  std::optional<Value> default_value;  // empty: the key is required
  std::string description;
  std::string env_var;                 // environment/.env variable that overrides it, if any
  std::optional<std::int64_t> min;     // integers only
  std::optional<std::int64_t> max;
  std::vector<std::string> choices;    // strings only; empty = any
  // Set by into(): writes the key's value into its field of an options
  // struct of type *bound_to. Runs in the plugin, by PluginConfig::apply.
  std::function<void(void* options, const Value& value)> bind;
  const std::type_info* bound_to = nullptr;

  static ConfigKey string(std::string name, std::string def, std::string description) {
    return make(std::move(name), ValueType::String, Value{std::move(def)}, std::move(description));
  }
  static ConfigKey integer(std::string name, std::int64_t def, std::string description) {
    return make(std::move(name), ValueType::Integer, Value{def}, std::move(description));
  }
  static ConfigKey boolean(std::string name, bool def, std::string description) {
    return make(std::move(name), ValueType::Boolean, Value{def}, std::move(description));
  }
  static ConfigKey number(std::string name, double def, std::string description) {
    return make(std::move(name), ValueType::Double, Value{def}, std::move(description));
  }
  static ConfigKey strings(std::string name, std::vector<std::string> def, std::string description) {
    return make(std::move(name), ValueType::StringList, Value{std::move(def)}, std::move(description));
  }
  static ConfigKey required(std::string name, ValueType type, std::string description) {
    ConfigKey key;
    key.name = std::move(name);
    key.type = type;
    key.description = std::move(description);
    return key;
  }

  ConfigKey env(std::string variable) && {
    env_var = std::move(variable);
    return std::move(*this);
  }
  ConfigKey range(std::int64_t lo, std::int64_t hi) && {
    min = lo;
    max = hi;
    return std::move(*this);
  }
  ConfigKey one_of(std::vector<std::string> allowed) && {
    choices = std::move(allowed);
    return std::move(*this);
  }
  // Binds the key to `field` of `Options`. The field takes the value as it
  // is declared: a string as std::string or std::filesystem::path, an
  // integer as any integer or floating-point type or as a std::chrono
  // duration counted in the duration's own unit ("timeout_ms" into
  // std::chrono::milliseconds), a boolean as bool, a number as double, a
  // list of strings as std::vector<std::string>.
  template <typename Options, typename Field>
  ConfigKey into(Field Options::*field) && {
    static_assert(assignable<Field>(), "a config key binds to a string, path, integer, floating-point, bool, "
                                       "std::chrono duration or std::vector<std::string> field");
    bound_to = &typeid(Options);
    bind = [field, key = name](void* options, const Value& value) {
      assign(static_cast<Options*>(options)->*field, value, key);
    };
    return std::move(*this);
  }

 private:
  template <typename T>
  struct is_duration : std::false_type {};
  template <typename Rep, typename Period>
  struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

  template <typename Field>
  static constexpr bool assignable() {
    return std::is_same_v<Field, std::string> || std::is_same_v<Field, std::filesystem::path> ||
           std::is_same_v<Field, bool> || std::is_arithmetic_v<Field> || is_duration<Field>::value ||
           std::is_same_v<Field, std::vector<std::string>>;
  }

  template <typename Field>
  static void assign(Field& field, const Value& value, const std::string& key) {
    const bool done = std::visit(
        [&field](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<Field, bool> || std::is_same_v<V, bool>) {
            if constexpr (std::is_same_v<Field, bool> && std::is_same_v<V, bool>) {
              field = v;
              return true;
            }
          } else if constexpr (std::is_same_v<V, std::string> &&
                               (std::is_same_v<Field, std::string> || std::is_same_v<Field, std::filesystem::path>)) {
            field = Field(v);
            return true;
          } else if constexpr (std::is_same_v<V, std::vector<std::string>> &&
                               std::is_same_v<Field, std::vector<std::string>>) {
            field = v;
            return true;
          } else if constexpr (std::is_same_v<V, std::int64_t> && is_duration<Field>::value) {
            field = Field(static_cast<typename Field::rep>(v));
            return true;
          } else if constexpr ((std::is_same_v<V, std::int64_t> || std::is_same_v<V, double>) &&
                               std::is_arithmetic_v<Field>) {
            field = static_cast<Field>(v);  // in range: the host checked the key's range
            return true;
          }
          return false;
        },
        value);
    if (!done) throw std::logic_error("config key " + key + " is bound to a field of another type");
  }

  static ConfigKey make(std::string name, ValueType type, Value def, std::string description) {
    ConfigKey key;
    key.name = std::move(name);
    key.type = type;
    key.default_value = std::move(def);
    key.description = std::move(description);
    return key;
  }
};

// A configuration problem, already phrased for the operator: where the value
// came from (file and line, .env line, environment variable or default),
// which key, and what was expected.
class BOOST_SYMBOL_VISIBLE ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One resolved value and where it came from, e.g. "config/chat.toml:12" or
// "environment variable MY_PORT".
struct ConfigEntry {
  Value value;
  std::string origin;
};

// A plugin's own table, validated and with every override applied. Getters
// return the value or the declared default; asking for an undeclared key or
// with the wrong type is a plugin bug and throws std::logic_error.
class PluginConfig {
 public:
  PluginConfig() = default;
  PluginConfig(std::string table, std::map<std::string, ConfigEntry, std::less<>> entries)
      : table_(std::move(table)), entries_(std::move(entries)) {}

  const std::string& table() const { return table_; }

  std::string get_string(std::string_view key) const { return get<std::string>(key); }
  std::int64_t get_int(std::string_view key) const { return get<std::int64_t>(key); }
  bool get_bool(std::string_view key) const { return get<bool>(key); }
  double get_double(std::string_view key) const { return get<double>(key); }
  std::vector<std::string> get_strings(std::string_view key) const {
    return get<std::vector<std::string>>(key);
  }

  // Fills every field bound to `Options` by ConfigKey::into with its key's
  // value; keys bound to other structs, or to none, are left alone.
  template <typename Options>
  void apply(const std::vector<ConfigKey>& keys, Options& options) const {
    for (const auto& key : keys) {
      if (key.bind && key.bound_to != nullptr && *key.bound_to == typeid(Options)) {
        key.bind(&options, entry(key.name).value);
      }
    }
  }

  // Where the value of `key` came from, for messages.
  const std::string& origin(std::string_view key) const { return entry(key).origin; }

  // Rejects a value with a message naming its origin and key, e.g.
  //   config/chat.toml:12: [my-plugin] mode: expected "fast" or "safe"
  [[noreturn]] void reject(std::string_view key, std::string_view why) const {
    throw ConfigError(origin(key) + ": [" + table_ + "] " + std::string(key) + ": " + std::string(why));
  }

 private:
  const ConfigEntry& entry(std::string_view key) const {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      throw std::logic_error("[" + table_ + "] " + std::string(key) + " is not a declared config key");
    }
    return it->second;
  }
  template <typename T>
  T get(std::string_view key) const {
    const auto* value = std::get_if<T>(&entry(key).value);
    if (value == nullptr) {
      throw std::logic_error("[" + table_ + "] " + std::string(key) + " read with the wrong type");
    }
    return *value;
  }

  std::string table_;
  std::map<std::string, ConfigEntry, std::less<>> entries_;
};

// ---------------------------------------------------------------------------
// Metrics: every plugin publishes through the host; a plugin that serves
// HTTP may expose them all (render_prometheus) in Prometheus text format.
// Asking again for the same name and labels returns the same object, which
// lives as long as the host: keep the reference, update it lock-free.

using Labels = std::vector<std::pair<std::string, std::string>>;

class BOOST_SYMBOL_VISIBLE Counter {
 public:
  virtual ~Counter() = default;
  virtual void inc(std::uint64_t n = 1) = 0;
};

class BOOST_SYMBOL_VISIBLE Gauge {
 public:
  virtual ~Gauge() = default;
  virtual void set(double value) = 0;
  virtual void add(double delta) = 0;
};

class BOOST_SYMBOL_VISIBLE Histogram {
 public:
  virtual ~Histogram() = default;
  virtual void observe(double value) = 0;
};

class BOOST_SYMBOL_VISIBLE Metrics {
 public:
  virtual ~Metrics() = default;
  // `name` follows Prometheus rules (e.g. "chat_ws_connections"); a name is
  // one kind of metric with one help text, whatever its labels.
  virtual Counter& counter(std::string_view name, std::string_view help, const Labels& labels = {}) = 0;
  virtual Gauge& gauge(std::string_view name, std::string_view help, const Labels& labels = {}) = 0;
  // `buckets`: upper bounds, ascending (+Inf is implied).
  virtual Histogram& histogram(std::string_view name, std::string_view help, const std::vector<double>& buckets,
                               const Labels& labels = {}) = 0;
  // Everything registered so far, in Prometheus text exposition format 0.0.4.
  virtual std::string render_prometheus() const = 0;
};

// ---------------------------------------------------------------------------
// What the host hands a plugin

struct PluginContext {
  PluginConfig config;
  // Named after the plugin; the host owns its level and sinks.
  std::shared_ptr<spdlog::logger> logger;
  std::string host_version;
  // Shipped read-only assets (web/, config/), e.g. <prefix>/share/chat-host.
  std::string share_dir;
  // Looks a variable up in the real environment, then in the .env file.
  std::function<std::optional<std::string>(std::string_view name)> env;
  // Asks the host to stop every plugin and exit non-zero: for fatal errors
  // found after start(), on any thread. Returns at once.
  std::function<void(std::string reason)> request_shutdown;
  // The host's metrics, shared by every plugin; outlives all of them.
  std::shared_ptr<Metrics> metrics;
  // A random secret made at start, the same for every plugin of this host
  // process and written nowhere: plugins of one host recognise each other by
  // it (a service may take it as the credential of callers in its own
  // process when no other is configured). 64 hex digits.
  std::string host_secret;
  // --insecure or [host] insecure = true: the operator accepts listeners
  // beyond loopback that let anyone in (any origin, no tokens). Without it a
  // plugin refuses to start such a listener.
  bool insecure = false;
};

// ---------------------------------------------------------------------------
// The plugin interface

class BOOST_SYMBOL_VISIBLE Plugin {
 public:
  virtual ~Plugin() = default;

  // The name the plugin is listed under, also its logger's name.
  virtual std::string_view name() const = 0;
  virtual std::vector<ConfigKey> config_keys() const = 0;
  // Throws ConfigError (usually through ctx.config.reject) for bad values.
  virtual void configure(PluginContext ctx) = 0;
  virtual void start() = 0;
  virtual void stop() = 0;
  // Where the plugin listens, e.g. "grpc://0.0.0.0:50051". After start() the
  // real addresses (port 0 resolved); before it the configured ones.
  virtual std::vector<std::string> endpoints() const { return {}; }
};

using PluginFactory = std::unique_ptr<Plugin>();

}  // namespace chathost

// Exports a plugin class (default-constructible, derived from
// chathost::Plugin) as this library's factory, with the API version the
// library was built against. Use once per plugin library, at namespace scope.
#define CHATHOST_PLUGIN(PluginClass)                                           \
  namespace chathost_plugin_export {                                           \
  const ::chathost::ApiVersion api_version = ::chathost::kApiVersion;          \
  std::unique_ptr<::chathost::Plugin> create() {                               \
    return std::make_unique<PluginClass>();                                    \
  }                                                                            \
  }                                                                            \
  BOOST_DLL_ALIAS(chathost_plugin_export::api_version, chathost_api_version)   \
  BOOST_DLL_ALIAS(chathost_plugin_export::create, chathost_create_plugin)
