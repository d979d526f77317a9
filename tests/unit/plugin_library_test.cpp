// Unit tests of the Boost.DLL loader against the test plugin directory: a
// good plugin loads and runs its lifecycle, every broken one is refused with
// a message naming the plugin, the file and the reason.
#include "plugin_library.hpp"
#include "config_source.hpp"

#include "support/test_helpers.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>


#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chathost {
namespace {

using Strings = std::vector<std::string>;

const std::filesystem::path kPluginDir{CHATHOST_TEST_PLUGIN_DIR};

// The PluginLoadError message of loading `name`, or "" (with a test failure)
// when it loads.
std::string load_error(const std::string& name, const std::filesystem::path& dir = kPluginDir) {
  try {
    load_plugin(dir, name);
  } catch (const PluginLoadError& e) {
    return e.what();
  }
  ADD_FAILURE() << "plugin '" << name << "' loaded";
  return "";
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::vector<std::string> key_names(const std::vector<ConfigKey>& keys) {
  std::vector<std::string> names;
  for (const auto& key : keys) names.push_back(key.name);
  return names;
}

// What the host would hand `plugin`: its table of `toml`, resolved against its
// own keys, with no environment at all, and a logger writing nowhere.
PluginContext make_context(const Plugin& plugin, std::string_view toml = "") {
  ConfigSource source = ConfigSource::from_string(toml, "chat.toml");
  source.set_environment([](std::string_view) -> std::optional<std::string> { return std::nullopt; });
  PluginContext ctx;
  const std::string name(plugin.name());
  ctx.config = source.resolve(name, plugin.config_keys());
  ctx.logger = std::make_shared<spdlog::logger>(name, std::make_shared<spdlog::sinks::null_sink_mt>());
  ctx.host_version = "0.0.0-test";
  ctx.share_dir = "/nonexistent/share";
  ctx.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  ctx.request_shutdown = [](const std::string&) {};
  return ctx;
}

// ---------------------------------------------------------------------------
// Directory listing

TEST(PluginDirectory, PluginPathIsNameDotSoInDir) {
  EXPECT_EQ(plugin_path("/opt/plugins", "grpc-chat"), std::filesystem::path("/opt/plugins/grpc-chat.so"));
}

TEST(PluginDirectory, AvailablePluginsListsTestPluginsSorted) {
  const Strings names = available_plugins(kPluginDir);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* expected :
       {"example-greeter", "test-hangs-on-stop", "test-newer-minor-version", "test-no-factory",
        "test-not-a-library", "test-requests-shutdown", "test-throws-on-configure", "test-throws-on-start",
        "test-wrong-api-version"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
}

class PluginTempDir : public ::testing::Test {
 protected:
  test::TempDir dir_;
};

TEST_F(PluginTempDir, AvailablePluginsListsOnlySoStemsSorted) {
  for (const char* file : {"zeta.so", "alpha.so", "mid-1.so", "readme.txt", "libfoo.so.1", "noext"})
    dir_.write(file, "x");
  EXPECT_EQ(available_plugins(dir_.path()), (Strings{"alpha", "mid-1", "zeta"}));
}

TEST_F(PluginTempDir, AvailablePluginsOfEmptyDirIsEmpty) { EXPECT_TRUE(available_plugins(dir_.path()).empty()); }

TEST_F(PluginTempDir, AvailablePluginsOfMissingDirIsEmpty) {
  EXPECT_TRUE(available_plugins(dir_ / "missing").empty());
}

TEST_F(PluginTempDir, UnknownPluginInEmptyDirSaysNoneAvailable) {
  EXPECT_EQ(load_error("grpc-chat", dir_.path()),
            "unknown plugin 'grpc-chat': no grpc-chat.so in " + dir_.path().string() + " (available: none)");
}

// ---------------------------------------------------------------------------
// The good plugin

TEST(PluginLoad, ExampleGreeterLoads) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "example-greeter");
  EXPECT_EQ(loaded.name(), "example-greeter");
  EXPECT_EQ(loaded.path(), kPluginDir / "example-greeter.so");
  EXPECT_EQ(loaded.plugin().name(), "example-greeter");
}

TEST(PluginLoad, ExampleGreeterDeclaresItsConfigKeys) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "example-greeter");
  const std::vector<ConfigKey> keys = loaded.plugin().config_keys();
  ASSERT_EQ(key_names(keys), (Strings{"host", "port", "greeting", "signature"}));

  EXPECT_EQ(keys[0].type, ValueType::String);
  ASSERT_TRUE(keys[0].default_value.has_value());
  EXPECT_EQ(std::get<std::string>(*keys[0].default_value), "127.0.0.1");

  EXPECT_EQ(keys[1].type, ValueType::Integer);
  ASSERT_TRUE(keys[1].default_value.has_value());
  EXPECT_EQ(std::get<std::int64_t>(*keys[1].default_value), 7070);
  EXPECT_EQ(keys[1].min, std::optional<std::int64_t>(0));
  EXPECT_EQ(keys[1].max, std::optional<std::int64_t>(65535));

  EXPECT_EQ(keys[2].type, ValueType::String);
  EXPECT_FALSE(keys[2].description.empty());
}

TEST(PluginLoad, ExampleGreeterConfiguresAndReportsConfiguredEndpoint) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "example-greeter");
  Plugin& plugin = loaded.plugin();
  plugin.configure(make_context(plugin, "[example-greeter]\nport = 7171\n"));
  EXPECT_EQ(plugin.endpoints(), Strings{"tcp://127.0.0.1:7171"});
}

TEST(PluginLoad, ConfigErrorFromPluginCrossesTheLibraryBoundary) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "example-greeter");
  Plugin& plugin = loaded.plugin();
  try {
    plugin.configure(make_context(plugin, "[example-greeter]\nhost = \"not-an-ip\"\n"));
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "chat.toml:2: [example-greeter] host: expected an IP address, got \"not-an-ip\"");
  }
}

TEST(PluginLoad, ExampleGreeterStartsOnAnyPortAndStops) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "example-greeter");
  Plugin& plugin = loaded.plugin();
  plugin.configure(make_context(plugin, "[example-greeter]\nport = 0\n"));
  plugin.start();
  const Strings endpoints = plugin.endpoints();
  plugin.stop();
  ASSERT_EQ(endpoints.size(), 1U);
  EXPECT_TRUE(starts_with(endpoints[0], "tcp://127.0.0.1:")) << endpoints[0];
  EXPECT_NE(endpoints[0], "tcp://127.0.0.1:0");
}

TEST(PluginLoad, SamePluginLoadedTwiceGivesTwoObjects) {
  const LoadedPlugin first = load_plugin(kPluginDir, "example-greeter");
  const LoadedPlugin second = load_plugin(kPluginDir, "example-greeter");
  EXPECT_NE(&first.plugin(), &second.plugin());
  EXPECT_EQ(second.plugin().name(), "example-greeter");
}

// ---------------------------------------------------------------------------
// Plugins that load but fail later

TEST(PluginLoad, ThrowsOnStartLoadsAndThrowsFromStart) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "test-throws-on-start");
  Plugin& plugin = loaded.plugin();
  EXPECT_EQ(plugin.name(), "test-throws-on-start");
  EXPECT_EQ(key_names(plugin.config_keys()), Strings{"mode"});
  plugin.configure(make_context(plugin));
  try {
    plugin.start();
    FAIL() << "start() returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "cannot bind 127.0.0.1:1: address already in use");
  }
}

TEST(PluginLoad, ThrowsOnConfigureThrowsFromConfigure) {
  const LoadedPlugin loaded = load_plugin(kPluginDir, "test-throws-on-configure");
  Plugin& plugin = loaded.plugin();
  try {
    plugin.configure(make_context(plugin));
    FAIL() << "configure() returned";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "refusing to configure, as designed");
  }
}

// ---------------------------------------------------------------------------
// Refused plugins

TEST(PluginLoadErrors, UnknownNameListsAvailablePlugins) {
  const std::string message = load_error("no-such-plugin");
  const std::string prefix =
      "unknown plugin 'no-such-plugin': no no-such-plugin.so in " + kPluginDir.string() + " (available: ";
  EXPECT_TRUE(starts_with(message, prefix)) << message;
  std::string available;
  for (const auto& name : available_plugins(kPluginDir)) available += (available.empty() ? "" : ", ") + name;
  EXPECT_EQ(message, prefix + available + ")");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "example-greeter, test-hangs-on-stop", message);
}

TEST(PluginLoadErrors, PathTraversalNameIsInvalid) {
  EXPECT_EQ(load_error("../etc"), "invalid plugin name '../etc': use lowercase letters, digits, '-' and '_'");
}

TEST(PluginLoadErrors, OtherInvalidNames) {
  for (const std::string& name : Strings{"", "Greeter", "a/b", "a.b", "a b", "/abs", std::string(65, 'a')}) {
    EXPECT_TRUE(starts_with(load_error(name), "invalid plugin name '" + name + "'")) << name;
  }
}

TEST(PluginLoadErrors, LongestValidNameIsOnlyUnknown) {
  const std::string name(64, 'a');
  EXPECT_TRUE(starts_with(load_error(name), "unknown plugin '" + name + "'"));
}

TEST(PluginLoadErrors, NotALibraryCannotBeLoaded) {
  const std::string message = load_error("test-not-a-library");
  const std::string prefix =
      "plugin 'test-not-a-library': cannot load " + (kPluginDir / "test-not-a-library.so").string() + ": ";
  ASSERT_TRUE(starts_with(message, prefix)) << message;
  // The loader's own reason follows, e.g. "...: file too short".
  const std::string reason = message.substr(prefix.size());
  EXPECT_FALSE(reason.empty());
  EXPECT_NE(reason, "unknown loader error");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "test-not-a-library.so", reason);
}

TEST(PluginLoadErrors, LibraryWithoutFactoryIsNotAPlugin) {
  EXPECT_EQ(load_error("test-no-factory"),
            "plugin 'test-no-factory': " + (kPluginDir / "test-no-factory.so").string() +
                " is not a chat-host plugin (symbol chathost_api_version missing; "
                "export the plugin with CHATHOST_PLUGIN)");
}

TEST(PluginLoadErrors, WrongMajorVersionIsRefused) {
  EXPECT_EQ(load_error("test-wrong-api-version"),
            "plugin 'test-wrong-api-version': " + (kPluginDir / "test-wrong-api-version.so").string() +
                " was built for host API " + std::to_string(kApiVersion.major + 1) +
                ".0, this host provides " + std::to_string(kApiVersion.major) + "." +
                std::to_string(kApiVersion.minor) + "; rebuild the plugin");
}

TEST(PluginLoadErrors, NewerMinorVersionIsRefused) {
  const std::string host_version =
      std::to_string(kApiVersion.major) + "." + std::to_string(kApiVersion.minor);
  const std::string plugin_version =
      std::to_string(kApiVersion.major) + "." + std::to_string(kApiVersion.minor + 1);
  EXPECT_EQ(load_error("test-newer-minor-version"),
            "plugin 'test-newer-minor-version': " + (kPluginDir / "test-newer-minor-version.so").string() +
                " was built for host API " + plugin_version + ", this host provides " + host_version +
                "; rebuild the plugin");
}

TEST(PluginLoadErrors, ErrorIsARuntimeError) {
  EXPECT_THROW(load_plugin(kPluginDir, "no-such-plugin"), std::runtime_error);
}

// ---------------------------------------------------------------------------
// Ownership

TEST(LoadedPluginOwnership, MovesIntoVectorAndDestroysCleanly) {
  std::vector<LoadedPlugin> plugins;
  // No reserve: each growth moves the elements already there.
  for (const char* name : {"example-greeter", "test-throws-on-start", "test-throws-on-configure",
                           "test-hangs-on-stop", "test-requests-shutdown"}) {
    LoadedPlugin loaded = load_plugin(kPluginDir, name);
    plugins.push_back(std::move(loaded));
  }
  ASSERT_EQ(plugins.size(), 5U);
  Strings names;
  for (const auto& loaded : plugins) {
    EXPECT_EQ(loaded.plugin().name(), loaded.name());
    EXPECT_EQ(loaded.path(), kPluginDir / (loaded.name() + ".so"));
    names.push_back(loaded.name());
  }
  EXPECT_EQ(names, (Strings{"example-greeter", "test-throws-on-start", "test-throws-on-configure",
                            "test-hangs-on-stop", "test-requests-shutdown"}));
  // Still usable after the moves: the library stayed with its object.
  EXPECT_EQ(key_names(plugins[0].plugin().config_keys()), (Strings{"host", "port", "greeting", "signature"}));
  plugins.clear();
  EXPECT_TRUE(plugins.empty());
}

TEST(LoadedPluginOwnership, MoveConstructedKeepsNamePathAndObject) {
  LoadedPlugin original = load_plugin(kPluginDir, "example-greeter");
  const Plugin* object = &original.plugin();
  const LoadedPlugin moved(std::move(original));
  EXPECT_EQ(&moved.plugin(), object);
  EXPECT_EQ(moved.name(), "example-greeter");
  EXPECT_EQ(moved.path(), kPluginDir / "example-greeter.so");
  EXPECT_EQ(moved.plugin().name(), "example-greeter");
}

TEST(LoadedPluginOwnership, ConfiguredPluginIsDestroyedBeforeItsLibrary) {
  // A configured plugin holds a logger and std::function objects; destroying
  // the LoadedPlugin must run the plugin's destructor while its code is mapped.
  auto loaded = std::make_unique<LoadedPlugin>(load_plugin(kPluginDir, "test-throws-on-start"));
  loaded->plugin().configure(make_context(loaded->plugin()));
  loaded.reset();
  const LoadedPlugin again = load_plugin(kPluginDir, "test-throws-on-start");
  EXPECT_EQ(again.plugin().name(), "test-throws-on-start");
}

}  // namespace
}  // namespace chathost
