// Unit tests of the layered configuration: precedence of default < TOML <
// .env < environment, the origin each value reports, typed conversions, and
// the operator-facing message of every configuration error.
#include "config_source.hpp"

#include "support/test_helpers.hpp"

#include <gtest/gtest.h>

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace chathost {
namespace {

using Environment = std::map<std::string, std::string>;
using Strings = std::vector<std::string>;

constexpr const char* kToml = "config/chat.toml";
constexpr const char* kEnvPath = "config/.env";

// The keys of an imaginary [grpc] table, one of each type, each overridable.
std::vector<ConfigKey> grpc_keys() {
  return {
      ConfigKey::string("host", "0.0.0.0", "address to listen on").env("GRPC_HOST"),
      ConfigKey::integer("port", 50051, "TCP port").range(0, 65535).env("GRPC_PORT"),
      ConfigKey::boolean("tls", false, "serve TLS").env("GRPC_TLS"),
      ConfigKey::number("ratio", 0.5, "a fraction").env("GRPC_RATIO"),
      ConfigKey::strings("origins", {"http://localhost"}, "allowed origins").env("GRPC_ORIGINS"),
      ConfigKey::string("store", "memory", "where messages live")
          .one_of({"sqlite", "memory"})
          .env("GRPC_STORE"),
  };
}

EnvironmentLookup fake_environment(Environment variables) {
  return [variables = std::move(variables)](std::string_view name) -> std::optional<std::string> {
    auto it = variables.find(std::string(name));
    if (it == variables.end()) return std::nullopt;
    return it->second;
  };
}

// A source over `toml` that sees only `environment` and, if given, `env_text`
// as its .env file: never the real process environment.
ConfigSource make_source(std::string_view toml, Environment environment = {},
                         std::optional<std::string> env_text = std::nullopt) {
  ConfigSource source = ConfigSource::from_string(toml, kToml);
  source.set_environment(fake_environment(std::move(environment)));
  if (env_text) source.set_env_file(parse_env_file(*env_text, kEnvPath));
  return source;
}

PluginConfig resolve_grpc(std::string_view toml, Environment environment = {},
                          std::optional<std::string> env_text = std::nullopt) {
  return make_source(toml, std::move(environment), std::move(env_text)).resolve("grpc", grpc_keys());
}

// The ConfigError message of `action`, or "" (with a test failure) when none is thrown.
template <typename Action>
std::string config_error(Action&& action) {
  try {
    std::forward<Action>(action)();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

std::string resolve_error(std::string_view toml, Environment environment = {},
                          std::optional<std::string> env_text = std::nullopt) {
  return config_error([&] { resolve_grpc(toml, environment, env_text); });
}

// ---------------------------------------------------------------------------
// Defaults and precedence

TEST(ConfigPrecedence, MissingTableYieldsDefaultsWithDefaultOrigin) {
  const PluginConfig config = resolve_grpc("[other]\nx = 1\n");
  EXPECT_EQ(config.table(), "grpc");
  EXPECT_EQ(config.get_string("host"), "0.0.0.0");
  EXPECT_EQ(config.get_int("port"), 50051);
  EXPECT_FALSE(config.get_bool("tls"));
  EXPECT_DOUBLE_EQ(config.get_double("ratio"), 0.5);
  EXPECT_EQ(config.get_strings("origins"), Strings{"http://localhost"});
  EXPECT_EQ(config.get_string("store"), "memory");
  EXPECT_EQ(config.origin("port"), "config/chat.toml (default)");
  EXPECT_EQ(config.origin("origins"), "config/chat.toml (default)");
}

TEST(ConfigPrecedence, EmptyTableYieldsDefaults) {
  const PluginConfig config = resolve_grpc("[grpc]\n");
  EXPECT_EQ(config.get_int("port"), 50051);
  EXPECT_EQ(config.origin("port"), "config/chat.toml (default)");
}

TEST(ConfigPrecedence, TomlOverridesDefaultAndReportsFileAndLine) {
  const PluginConfig config = resolve_grpc(
      "# chat\n"
      "[grpc]\n"
      "host = \"127.0.0.1\"\n"
      "\n"
      "port = 6000\n");
  EXPECT_EQ(config.get_string("host"), "127.0.0.1");
  EXPECT_EQ(config.origin("host"), "config/chat.toml:3");
  EXPECT_EQ(config.get_int("port"), 6000);
  EXPECT_EQ(config.origin("port"), "config/chat.toml:5");
  EXPECT_EQ(config.origin("tls"), "config/chat.toml (default)");
}

TEST(ConfigPrecedence, EnvFileOverridesTomlAndReportsPathLineAndVariable) {
  const PluginConfig config = resolve_grpc("[grpc]\nport = 6000\n", {}, "# ports\nGRPC_PORT=7000\n");
  EXPECT_EQ(config.get_int("port"), 7000);
  EXPECT_EQ(config.origin("port"), "config/.env:2: GRPC_PORT");
}

TEST(ConfigPrecedence, EnvironmentOverridesEnvFileAndReportsVariable) {
  const PluginConfig config =
      resolve_grpc("[grpc]\nport = 6000\n", {{"GRPC_PORT", "8000"}}, "GRPC_PORT=7000\n");
  EXPECT_EQ(config.get_int("port"), 8000);
  EXPECT_EQ(config.origin("port"), "environment variable GRPC_PORT");
}

TEST(ConfigPrecedence, EnvironmentOverridesTomlWithoutEnvFile) {
  const PluginConfig config = resolve_grpc("[grpc]\nhost = \"toml\"\n", {{"GRPC_HOST", "env"}});
  EXPECT_EQ(config.get_string("host"), "env");
  EXPECT_EQ(config.origin("host"), "environment variable GRPC_HOST");
}

TEST(ConfigPrecedence, EachLayerWinsOnlyWhereItHasAValue) {
  const PluginConfig config = resolve_grpc(
      "[grpc]\n"
      "host = \"from-toml\"\n"
      "port = 1000\n"
      "store = \"sqlite\"\n",
      {{"GRPC_STORE", "memory"}},
      "GRPC_PORT=2000\n"
      "GRPC_STORE=sqlite\n");
  // default only
  EXPECT_FALSE(config.get_bool("tls"));
  EXPECT_EQ(config.origin("tls"), "config/chat.toml (default)");
  // toml only
  EXPECT_EQ(config.get_string("host"), "from-toml");
  EXPECT_EQ(config.origin("host"), "config/chat.toml:2");
  // toml < .env
  EXPECT_EQ(config.get_int("port"), 2000);
  EXPECT_EQ(config.origin("port"), "config/.env:1: GRPC_PORT");
  // toml < .env < environment
  EXPECT_EQ(config.get_string("store"), "memory");
  EXPECT_EQ(config.origin("store"), "environment variable GRPC_STORE");
}

TEST(ConfigPrecedence, EnvFileOverridesDefaultWhenTomlIsSilent) {
  const PluginConfig config = resolve_grpc("", {}, "GRPC_TLS=yes\n");
  EXPECT_TRUE(config.get_bool("tls"));
  EXPECT_EQ(config.origin("tls"), "config/.env:1: GRPC_TLS");
}

TEST(ConfigPrecedence, EmptyEnvironmentValueStillOverrides) {
  const PluginConfig config = resolve_grpc("[grpc]\nhost = \"toml\"\n", {{"GRPC_HOST", ""}});
  EXPECT_EQ(config.get_string("host"), "");
  EXPECT_EQ(config.origin("host"), "environment variable GRPC_HOST");
}

TEST(ConfigPrecedence, KeyWithoutEnvVarIgnoresEnvironment) {
  const std::vector<ConfigKey> keys{ConfigKey::integer("port", 1, "no override")};
  ConfigSource source = make_source("[t]\nport = 2\n", {{"port", "3"}, {"PORT", "4"}}, "port=5\nPORT=6\n");
  const PluginConfig config = source.resolve("t", keys);
  EXPECT_EQ(config.get_int("port"), 2);
  EXPECT_EQ(config.origin("port"), "config/chat.toml:2");
}

TEST(ConfigPrecedence, TablesAreResolvedIndependently) {
  ConfigSource source = make_source("[a]\nport = 1\n[b]\nport = 2\n");
  const std::vector<ConfigKey> keys{ConfigKey::integer("port", 0, "port")};
  EXPECT_EQ(source.resolve("a", keys).get_int("port"), 1);
  EXPECT_EQ(source.resolve("b", keys).get_int("port"), 2);
  EXPECT_EQ(source.resolve("b", keys).origin("port"), "config/chat.toml:4");
}

TEST(ConfigPrecedence, FromStringKeepsThePathForMessages) {
  EXPECT_EQ(ConfigSource::from_string("", "some/where.toml").path(), "some/where.toml");
}

// ---------------------------------------------------------------------------
// Typed values from TOML

TEST(ConfigTomlTypes, AllTypesConvert) {
  const PluginConfig config = resolve_grpc(
      "[grpc]\n"
      "host = \"::1\"\n"
      "port = 0\n"
      "tls = true\n"
      "ratio = 0.25\n"
      "origins = [\"http://a\", \"https://b\"]\n"
      "store = \"sqlite\"\n");
  EXPECT_EQ(config.get_string("host"), "::1");
  EXPECT_EQ(config.get_int("port"), 0);
  EXPECT_TRUE(config.get_bool("tls"));
  EXPECT_DOUBLE_EQ(config.get_double("ratio"), 0.25);
  EXPECT_EQ(config.get_strings("origins"), (Strings{"http://a", "https://b"}));
  EXPECT_EQ(config.get_string("store"), "sqlite");
  EXPECT_EQ(config.origin("origins"), "config/chat.toml:6");
}

TEST(ConfigTomlTypes, DoubleAcceptsTomlInteger) {
  const PluginConfig config = resolve_grpc("[grpc]\nratio = 2\n");
  EXPECT_DOUBLE_EQ(config.get_double("ratio"), 2.0);
  EXPECT_EQ(config.origin("ratio"), "config/chat.toml:2");
}

TEST(ConfigTomlTypes, DoubleAcceptsTomlIntegerBeyondExactRange) {
  // 2^53 + 1 has no exact double; the nearest one is 2^53.
  const PluginConfig config = resolve_grpc("[grpc]\nratio = 9007199254740993\n");
  EXPECT_EQ(config.get_double("ratio"), 9007199254740992.0);
}

TEST(ConfigTomlTypes, NegativeAndLargeIntegers) {
  const std::vector<ConfigKey> keys{ConfigKey::integer("n", 0, "any integer")};
  ConfigSource source = make_source("[t]\nn = -9223372036854775808\n");
  EXPECT_EQ(source.resolve("t", keys).get_int("n"), INT64_MIN);
}

TEST(ConfigTomlTypes, EmptyArrayIsAnEmptyStringList) {
  EXPECT_TRUE(resolve_grpc("[grpc]\norigins = []\n").get_strings("origins").empty());
}

TEST(ConfigTomlTypes, FalseBoolean) {
  const std::vector<ConfigKey> keys{ConfigKey::boolean("b", true, "flag")};
  EXPECT_FALSE(make_source("[t]\nb = false\n").resolve("t", keys).get_bool("b"));
}

TEST(ConfigTomlTypes, DottedKeysAndInlineTableDefineTheTable) {
  const std::vector<ConfigKey> keys{ConfigKey::integer("port", 0, "port")};
  EXPECT_EQ(make_source("t.port = 5\n").resolve("t", keys).get_int("port"), 5);
  EXPECT_EQ(make_source("t = { port = 6 }\n").resolve("t", keys).get_int("port"), 6);
}

// ---------------------------------------------------------------------------
// Typed values from text (environment and .env)

TEST(ConfigTextTypes, IntegerIsTrimmed) {
  const PluginConfig config = resolve_grpc("", {{"GRPC_PORT", "  8080 "}});
  EXPECT_EQ(config.get_int("port"), 8080);
}

TEST(ConfigTextTypes, NegativeInteger) {
  const std::vector<ConfigKey> keys{ConfigKey::integer("n", 0, "any").env("N")};
  EXPECT_EQ(make_source("", {{"N", "-42"}}).resolve("t", keys).get_int("n"), -42);
}

TEST(ConfigTextTypes, StringIsTakenVerbatim) {
  const PluginConfig config = resolve_grpc("", {{"GRPC_HOST", " spaced, with comma "}});
  EXPECT_EQ(config.get_string("host"), " spaced, with comma ");
}

TEST(ConfigTextTypes, DoubleFromText) {
  EXPECT_DOUBLE_EQ(resolve_grpc("", {{"GRPC_RATIO", "0.75"}}).get_double("ratio"), 0.75);
  EXPECT_DOUBLE_EQ(resolve_grpc("", {{"GRPC_RATIO", " 3 "}}).get_double("ratio"), 3.0);
  EXPECT_DOUBLE_EQ(resolve_grpc("", {{"GRPC_RATIO", "-1e-3"}}).get_double("ratio"), -0.001);
}

TEST(ConfigTextTypes, StringListSplitsOnCommasAndTrimsBlanks) {
  const PluginConfig config = resolve_grpc("", {{"GRPC_ORIGINS", " http://a ,https://b,, ,\thttp://c\t"}});
  EXPECT_EQ(config.get_strings("origins"), (Strings{"http://a", "https://b", "http://c"}));
}

TEST(ConfigTextTypes, StringListSingleItem) {
  EXPECT_EQ(resolve_grpc("", {{"GRPC_ORIGINS", "only"}}).get_strings("origins"), Strings{"only"});
}

TEST(ConfigTextTypes, EmptyTextIsAnEmptyStringList) {
  EXPECT_TRUE(resolve_grpc("", {{"GRPC_ORIGINS", ""}}).get_strings("origins").empty());
}

TEST(ConfigTextTypes, StringListFromEnvFile) {
  const PluginConfig config = resolve_grpc("[grpc]\norigins = [\"toml\"]\n", {}, "GRPC_ORIGINS=\"a, b\"\n");
  EXPECT_EQ(config.get_strings("origins"), (Strings{"a", "b"}));
  EXPECT_EQ(config.origin("origins"), "config/.env:1: GRPC_ORIGINS");
}

struct BooleanText {
  const char* text;
  bool value;
};

class ConfigBooleanText : public ::testing::TestWithParam<BooleanText> {};

TEST_P(ConfigBooleanText, Converts) {
  const PluginConfig config = resolve_grpc("", {{"GRPC_TLS", GetParam().text}});
  EXPECT_EQ(config.get_bool("tls"), GetParam().value) << "text: '" << GetParam().text << "'";
}

INSTANTIATE_TEST_SUITE_P(AllSpellings, ConfigBooleanText,
                         ::testing::Values(BooleanText{"true", true}, BooleanText{"1", true},
                                           BooleanText{"yes", true}, BooleanText{"on", true},
                                           BooleanText{"TRUE", true}, BooleanText{"Yes", true},
                                           BooleanText{" On ", true}, BooleanText{"false", false},
                                           BooleanText{"0", false}, BooleanText{"no", false},
                                           BooleanText{"off", false}, BooleanText{"FALSE", false},
                                           BooleanText{"No", false}, BooleanText{" OFF\t", false}));

// ---------------------------------------------------------------------------
// Errors in the TOML table

// Each case resolves [grpc] from a TOML text, an environment and a .env
// text, and expects the ConfigError message.
struct ResolveErrorCase {
  const char* name;  // the test's name
  const char* toml;
  Environment environment;
  std::optional<std::string> env_text;
  const char* message;
};

void PrintTo(const ResolveErrorCase& c, std::ostream* out) { *out << c.name; }

class ConfigResolveError : public ::testing::TestWithParam<ResolveErrorCase> {};

TEST_P(ConfigResolveError, SaysWhereWhatAndWhy) {
  const ResolveErrorCase& c = GetParam();
  EXPECT_EQ(resolve_error(c.toml, c.environment, c.env_text), c.message);
}

std::string case_name(const ::testing::TestParamInfo<ResolveErrorCase>& info) { return info.param.name; }

const ResolveErrorCase kTomlErrors[] = {
    {"UnknownKeyNamesFileLineTableKeyAndKnownKeys", "[grpc]\nport = 1\nprot = 2\n", {}, std::nullopt, "config/chat.toml:3: [grpc] unknown key prot (known keys: host, port, tls, ratio, origins, store)"},
    {"WrongTypeStringForInteger", "[grpc]\nport = \"abc\"\n", {}, std::nullopt, "config/chat.toml:2: [grpc] port: expected integer, got string \"abc\""},
    {"WrongTypeIntegerForBoolean", "[grpc]\n\ntls = 1\n", {}, std::nullopt, "config/chat.toml:3: [grpc] tls: expected boolean, got integer 1"},
    {"WrongTypeBooleanForString", "[grpc]\nhost = true\n", {}, std::nullopt, "config/chat.toml:2: [grpc] host: expected string, got boolean true"},
    {"WrongTypeFloatForInteger", "[grpc]\nport = 1.5\n", {}, std::nullopt, "config/chat.toml:2: [grpc] port: expected integer, got number 1.500000"},
    {"WrongTypeStringForNumber", "[grpc]\nratio = \"half\"\n", {}, std::nullopt, "config/chat.toml:2: [grpc] ratio: expected number, got string \"half\""},
    {"WrongTypeStringForStringList", "[grpc]\norigins = \"http://a\"\n", {}, std::nullopt, "config/chat.toml:2: [grpc] origins: expected list of strings, got string \"http://a\""},
    {"StringListWithNonStringElement", "[grpc]\norigins = [\"a\", 2]\n", {}, std::nullopt, "config/chat.toml:2: [grpc] origins: expected list of strings, got an array"},
    {"TableForScalar", "[grpc]\nhost = { a = 1 }\n", {}, std::nullopt, "config/chat.toml:2: [grpc] host: expected string, got a table"},
    {"DateForString", "[grpc]\nhost = 2024-01-02\n", {}, std::nullopt, "config/chat.toml:2: [grpc] host: expected string, got a date/time"},
    {"IntegerAboveRange", "[grpc]\nport = 70000\n", {}, std::nullopt, "config/chat.toml:2: [grpc] port: expected integer in 0..65535, got 70000"},
    {"IntegerBelowRange", "[grpc]\nport = -1\n", {}, std::nullopt, "config/chat.toml:2: [grpc] port: expected integer in 0..65535, got -1"},
    {"StringNotInChoices", "[grpc]\nstore = \"redis\"\n", {}, std::nullopt, "config/chat.toml:2: [grpc] store: expected one of \"sqlite\", \"memory\", got \"redis\""},
    {"TableNameThatIsNotATable", "grpc = 5\n", {}, std::nullopt, "config/chat.toml:1: grpc must be a table"},
};
INSTANTIATE_TEST_SUITE_P(ConfigErrors, ConfigResolveError, ::testing::ValuesIn(kTomlErrors), case_name);

TEST(ConfigErrors, UnknownKeyIsReportedEvenWhenEnvironmentOverridesEverything) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "config/chat.toml:2: [grpc] unknown key extra",
                      resolve_error("[grpc]\nextra = 1\n", {{"GRPC_PORT", "1"}}));
}

TEST(ConfigErrors, IntegerRangeBoundsAreInclusive) {
  EXPECT_EQ(resolve_grpc("[grpc]\nport = 65535\n").get_int("port"), 65535);
  EXPECT_EQ(resolve_grpc("[grpc]\nport = 0\n").get_int("port"), 0);
}

TEST(ConfigErrors, IntegerBelowMinimumOnly) {
  ConfigKey key = ConfigKey::integer("workers", 4, "threads");
  key.min = 1;
  EXPECT_EQ(config_error([&] { make_source("[t]\nworkers = 0\n").resolve("t", {key}); }),
            "config/chat.toml:2: [t] workers: expected integer >= 1, got 0");
}

TEST(ConfigErrors, ChoicesAreCaseSensitive) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "got \"SQLite\"",
                      resolve_error("[grpc]\nstore = \"SQLite\"\n"));
}

TEST(ConfigErrors, MissingRequiredKeyNamesFileTableKeyTypeAndDescription) {
  const std::vector<ConfigKey> keys{ConfigKey::required("token", ValueType::String, "API token")};
  EXPECT_EQ(config_error([&] { make_source("[bot]\n").resolve("bot", keys); }),
            "config/chat.toml: [bot] token: missing required key (string: API token)");
}

TEST(ConfigErrors, MissingRequiredKeyWhenTableIsAbsent) {
  const std::vector<ConfigKey> keys{ConfigKey::required("limit", ValueType::Integer, "max users")};
  EXPECT_EQ(config_error([&] { make_source("").resolve("bot", keys); }),
            "config/chat.toml: [bot] limit: missing required key (integer: max users)");
}

TEST(ConfigErrors, RequiredKeySatisfiedByTomlOrEnvironment) {
  const std::vector<ConfigKey> keys{
      ConfigKey::required("token", ValueType::String, "API token").env("BOT_TOKEN")};
  const PluginConfig from_toml = make_source("[bot]\ntoken = \"t1\"\n").resolve("bot", keys);
  EXPECT_EQ(from_toml.get_string("token"), "t1");
  const PluginConfig from_env = make_source("", {{"BOT_TOKEN", "t2"}}).resolve("bot", keys);
  EXPECT_EQ(from_env.get_string("token"), "t2");
  EXPECT_EQ(from_env.origin("token"), "environment variable BOT_TOKEN");
}

TEST(ConfigErrors, DefaultOutOfRangeIsReportedAsDefault) {
  const std::vector<ConfigKey> keys{ConfigKey::integer("port", 99999, "port").range(0, 65535)};
  EXPECT_EQ(config_error([&] { make_source("").resolve("t", keys); }),
            "config/chat.toml (default): [t] port: expected integer in 0..65535, got 99999");
}

// ---------------------------------------------------------------------------
// Errors in the environment and .env

const ResolveErrorCase kEnvErrors[] = {
    {"BadIntegerFromEnvironment", "", {{"GRPC_PORT", "abc"}}, std::nullopt, "environment variable GRPC_PORT: [grpc] port: expected integer in 0..65535, got \"abc\""},
    {"IntegerWithTrailingTextFromEnvironment", "", {{"GRPC_PORT", "80 80"}}, std::nullopt, "environment variable GRPC_PORT: [grpc] port: expected integer in 0..65535, got \"80 80\""},
    {"EmptyIntegerFromEnvironment", "", {{"GRPC_PORT", ""}}, std::nullopt, "environment variable GRPC_PORT: [grpc] port: expected integer in 0..65535, got \"\""},
    {"IntegerOutOfRangeFromEnvironment", "", {{"GRPC_PORT", "70000"}}, std::nullopt, "environment variable GRPC_PORT: [grpc] port: expected integer in 0..65535, got 70000"},
    {"BadBooleanFromEnvFile", "", {}, "\nGRPC_TLS=maybe\n", "config/.env:2: GRPC_TLS: [grpc] tls: expected boolean, got \"maybe\""},
    {"BadNumberFromEnvironment", "", {{"GRPC_RATIO", "half"}}, std::nullopt, "environment variable GRPC_RATIO: [grpc] ratio: expected number, got \"half\""},
    {"NumberWithTrailingTextFromEnvironment", "", {{"GRPC_RATIO", "0.5x"}}, std::nullopt, "environment variable GRPC_RATIO: [grpc] ratio: expected number, got \"0.5x\""},
    {"BlankNumberFromEnvironment", "", {{"GRPC_RATIO", " "}}, std::nullopt, "environment variable GRPC_RATIO: [grpc] ratio: expected number, got \" \""},
    {"StringNotInChoicesFromEnvironment", "", {{"GRPC_STORE", "redis"}}, std::nullopt, "environment variable GRPC_STORE: [grpc] store: expected one of \"sqlite\", \"memory\", got \"redis\""},
};
INSTANTIATE_TEST_SUITE_P(ConfigEnvErrors, ConfigResolveError, ::testing::ValuesIn(kEnvErrors), case_name);

TEST(ConfigEnvErrors, IntegerOverflowFromEnvironment) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "environment variable GRPC_PORT: [grpc] port: expected integer",
                      resolve_error("", {{"GRPC_PORT", "99999999999999999999"}}));
}

TEST(ConfigEnvErrors, BadEnvironmentValueIsReportedEvenWhenTomlIsFine) {
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "environment variable GRPC_PORT: [grpc] port:",
                      resolve_error("[grpc]\nport = 1\n", {{"GRPC_PORT", "x"}}, "GRPC_PORT=2\n"));
}

TEST(ConfigEnvErrors, BadEnvFileValueShadowedByGoodEnvironmentValue) {
  const PluginConfig config = resolve_grpc("", {{"GRPC_PORT", "10"}}, "GRPC_PORT=abc\n");
  EXPECT_EQ(config.get_int("port"), 10);
}

// ---------------------------------------------------------------------------
// Whole-file checks

TEST(ConfigFileChecks, InvalidTomlNamesFileLineAndColumn) {
  const std::string message =
      config_error([] { ConfigSource::from_string("[grpc]\nport = = 1\n", "bad.toml"); });
  EXPECT_EQ(message.rfind("bad.toml:2:8: invalid TOML: ", 0), 0U) << message;
}

TEST(ConfigFileChecks, UnterminatedTableHeaderIsInvalidToml) {
  const std::string message = config_error([] { ConfigSource::from_string("\n\n[grpc\n", "x/chat.toml"); });
  EXPECT_EQ(message.rfind("x/chat.toml:3:", 0), 0U) << message;
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, ": invalid TOML: ", message);
}

TEST(ConfigFileChecks, DuplicateKeyIsInvalidToml) {
  const std::string message =
      config_error([] { ConfigSource::from_string("[grpc]\nport = 1\nport = 2\n", "chat.toml"); });
  EXPECT_EQ(message.rfind("chat.toml:3:", 0), 0U) << message;
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "invalid TOML", message);
}

TEST(ConfigFileChecks, TopLevelKeyOutsideTable) {
  const ConfigSource source = make_source("port = 1\n[grpc]\n");
  EXPECT_EQ(config_error([&] { source.check_top_level(); }),
            "config/chat.toml:1: key port is outside any table; put it under [host] or a plugin's table");
}

TEST(ConfigFileChecks, TopLevelArrayOutsideTable) {
  const ConfigSource source = make_source("[host]\n[grpc]\n");
  EXPECT_NO_THROW(source.check_top_level());
  const ConfigSource bad = make_source("\nplugins = [\"a\"]\n[host]\n");
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, "config/chat.toml:2: key plugins is outside any table",
                      config_error([&] { bad.check_top_level(); }));
}

TEST(ConfigFileChecks, OnlyTablesPassTopLevelCheck) {
  EXPECT_NO_THROW(make_source("[host]\nx = 1\n[grpc]\nport = 2\n").check_top_level());
  EXPECT_NO_THROW(make_source("").check_top_level());
}

TEST(ConfigFileChecks, UnknownTableNamesLineTableAndHint) {
  const ConfigSource source = make_source("[host]\n\n[grpc]\nport = 1\n[grcp]\nport = 2\n");
  EXPECT_EQ(config_error([&] {
              source.check_tables_known({"host", "grpc"}, "list its plugin in [host] plugins");
            }),
            "config/chat.toml:5: unknown table [grcp]: list its plugin in [host] plugins");
}

TEST(ConfigFileChecks, KnownTablesPass) {
  const ConfigSource source = make_source("[host]\n[grpc]\n");
  EXPECT_NO_THROW(source.check_tables_known({"grpc", "host", "unused"}, "hint"));
}

TEST(ConfigFileChecks, TableCheckIgnoresTopLevelValues) {
  EXPECT_NO_THROW(make_source("x = 1\n[host]\n").check_tables_known({"host"}, "hint"));
}

TEST(ConfigFileChecks, TableNamesPlaceImplicitTableAtItsFirstHeader) {
  const ConfigSource source = make_source("[zeta]\n[alpha.sub]\nx = 1\n[beta]\n");
  EXPECT_EQ(source.table_names(), (Strings{"zeta", "alpha", "beta"}));
}

TEST(ConfigFileChecks, TableNamesInFileOrder) {
  const ConfigSource source = make_source("top = 1\n[zeta]\n[alpha]\n[mid]\n");
  EXPECT_EQ(source.table_names(), (Strings{"zeta", "alpha", "mid"}));
}

// ---------------------------------------------------------------------------
// from_file

class ConfigFromFile : public ::testing::Test {
 protected:
  test::TempDir dir_;
};

TEST_F(ConfigFromFile, ValuesReportTheFilePathAndLine) {
  const auto path = dir_.write("chat.toml", "[grpc]\n# comment\nport = 4000\n");
  ConfigSource source = ConfigSource::from_file(path);
  source.set_environment(fake_environment({}));
  EXPECT_EQ(source.path(), path.string());
  const PluginConfig config = source.resolve("grpc", grpc_keys());
  EXPECT_EQ(config.get_int("port"), 4000);
  EXPECT_EQ(config.origin("port"), path.string() + ":3");
  EXPECT_EQ(config.origin("host"), path.string() + " (default)");
}

TEST_F(ConfigFromFile, EnvFileLoadedFromDiskOverridesFile) {
  const auto toml = dir_.write("chat.toml", "[grpc]\nport = 4000\n");
  const auto env = dir_.write(".env", "# local\nexport GRPC_PORT=4001\n");
  ConfigSource source = ConfigSource::from_file(toml);
  source.set_environment(fake_environment({}));
  source.set_env_file(load_env_file(env));
  const PluginConfig config = source.resolve("grpc", grpc_keys());
  EXPECT_EQ(config.get_int("port"), 4001);
  EXPECT_EQ(config.origin("port"), env.string() + ":2: GRPC_PORT");
}

TEST_F(ConfigFromFile, MissingFileNamesPathAndReason) {
  const auto path = dir_ / "missing.toml";
  EXPECT_EQ(config_error([&] { ConfigSource::from_file(path); }),
            "cannot read config file " + path.string() + ": No such file or directory");
}

TEST_F(ConfigFromFile, UnreadableFileNamesPathAndReason) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of permissions";
  const auto path = dir_.write("secret.toml", "[grpc]\n");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  EXPECT_EQ(config_error([&] { ConfigSource::from_file(path); }),
            "cannot read config file " + path.string() + ": Permission denied");
}

TEST_F(ConfigFromFile, DirectoryIsRefusedNotReadAsEmpty) {
  EXPECT_EQ(config_error([&] { ConfigSource::from_file(dir_.path()); }),
            "cannot read config file " + dir_.path().string() + ": Is a directory");
}

TEST_F(ConfigFromFile, InvalidTomlNamesTheFile) {
  const auto path = dir_.write("chat.toml", "[grpc]\nport = \n");
  const std::string message = config_error([&] { ConfigSource::from_file(path); });
  EXPECT_EQ(message.rfind(path.string() + ":2:", 0), 0U) << message;
  EXPECT_PRED_FORMAT2(::testing::IsSubstring, ": invalid TOML: ", message);
}

TEST_F(ConfigFromFile, ErrorsNameTheFilePath) {
  const auto path = dir_.write("chat.toml", "[grpc]\nport = \"abc\"\n");
  ConfigSource source = ConfigSource::from_file(path);
  source.set_environment(fake_environment({}));
  EXPECT_EQ(config_error([&] { source.resolve("grpc", grpc_keys()); }),
            path.string() + ":2: [grpc] port: expected integer, got string \"abc\"");
}

// ---------------------------------------------------------------------------
// PluginConfig

PluginConfig sample_config() { return resolve_grpc("[grpc]\nstore = \"sqlite\"\n"); }

TEST(PluginConfigGetters, WrongTypeIsALogicError) {
  const PluginConfig config = sample_config();
  try {
    static_cast<void>(config.get_int("host"));
    FAIL() << "no std::logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "[grpc] host read with the wrong type");
  }
  EXPECT_THROW(static_cast<void>(config.get_string("port")), std::logic_error);
  EXPECT_THROW(static_cast<void>(config.get_bool("ratio")), std::logic_error);
  EXPECT_THROW(static_cast<void>(config.get_double("port")), std::logic_error);
  EXPECT_THROW(static_cast<void>(config.get_strings("host")), std::logic_error);
}

TEST(PluginConfigGetters, UndeclaredKeyIsALogicError) {
  const PluginConfig config = sample_config();
  try {
    static_cast<void>(config.get_string("nope"));
    FAIL() << "no std::logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "[grpc] nope is not a declared config key");
  }
  EXPECT_THROW(static_cast<void>(config.origin("nope")), std::logic_error);
}

TEST(PluginConfigGetters, DefaultConstructedHasNoKeys) {
  const PluginConfig config;
  EXPECT_EQ(config.table(), "");
  EXPECT_THROW(static_cast<void>(config.get_int("port")), std::logic_error);
}

TEST(PluginConfigGetters, RejectNamesOriginTableKeyAndReason) {
  const PluginConfig config = sample_config();
  EXPECT_EQ(config_error([&] { config.reject("store", "sqlite is not built in"); }),
            "config/chat.toml:2: [grpc] store: sqlite is not built in");
}

TEST(PluginConfigGetters, RejectOfDefaultAndEnvironmentValues) {
  const PluginConfig config = resolve_grpc("", {{"GRPC_HOST", "nowhere"}});
  EXPECT_EQ(config_error([&] { config.reject("port", "in use"); }),
            "config/chat.toml (default): [grpc] port: in use");
  EXPECT_EQ(config_error([&] { config.reject("host", "expected an IP address, got \"nowhere\""); }),
            "environment variable GRPC_HOST: [grpc] host: expected an IP address, got \"nowhere\"");
}

TEST(PluginConfigGetters, RejectOfUndeclaredKeyIsALogicError) {
  const PluginConfig config = sample_config();
  EXPECT_THROW(config.reject("nope", "why"), std::logic_error);
}

// ---------------------------------------------------------------------------
// lookup_env and the process environment

TEST(ConfigLookupEnv, EnvironmentWinsOverEnvFile) {
  const ConfigSource source = make_source("", {{"ADMIN_NAME", "from-env"}}, "ADMIN_NAME=from-file\n");
  EXPECT_EQ(source.lookup_env("ADMIN_NAME"), std::optional<std::string>("from-env"));
}

TEST(ConfigLookupEnv, FallsBackToEnvFile) {
  const ConfigSource source = make_source("", {{"OTHER", "x"}}, "ADMIN_NAME=from-file\n");
  EXPECT_EQ(source.lookup_env("ADMIN_NAME"), std::optional<std::string>("from-file"));
}

TEST(ConfigLookupEnv, MissingEverywhereIsEmpty) {
  const ConfigSource source = make_source("", {}, "A=1\n");
  EXPECT_EQ(source.lookup_env("ADMIN_NAME"), std::nullopt);
  EXPECT_EQ(make_source("").lookup_env("A"), std::nullopt);
}

TEST(ConfigLookupEnv, NoEnvironmentAtAllUsesEnvFile) {
  ConfigSource source = ConfigSource::from_string("", kToml);
  source.set_environment(nullptr);
  source.set_env_file(parse_env_file("A=1\n", kEnvPath));
  EXPECT_EQ(source.lookup_env("A"), std::optional<std::string>("1"));
  const std::vector<ConfigKey> keys{ConfigKey::integer("a", 0, "a").env("A")};
  EXPECT_EQ(source.resolve("t", keys).origin("a"), "config/.env:1: A");
}

TEST(ConfigLookupEnv, EmptyEnvironmentValueWinsOverEnvFile) {
  const ConfigSource source = make_source("", {{"A", ""}}, "A=1\n");
  EXPECT_EQ(source.lookup_env("A"), std::optional<std::string>(""));
}

TEST(ConfigProcessEnvironment, ReadsRealVariables) {
  const std::string name = "CHATHOST_CONFIG_TEST_" + std::to_string(::getpid());
  ASSERT_EQ(::setenv(name.c_str(), "value 1", 1), 0);
  const EnvironmentLookup environment = process_environment();
  EXPECT_EQ(environment(name), std::optional<std::string>("value 1"));
  ASSERT_EQ(::unsetenv(name.c_str()), 0);
  EXPECT_EQ(environment(name), std::nullopt);
}

TEST(ConfigProcessEnvironment, IsTheDefaultEnvironment) {
  const std::string name = "CHATHOST_CONFIG_TEST_DEFAULT_" + std::to_string(::getpid());
  ASSERT_EQ(::setenv(name.c_str(), "42", 1), 0);
  const ConfigSource source = ConfigSource::from_string("", kToml);
  EXPECT_EQ(source.lookup_env(name), std::optional<std::string>("42"));
  ASSERT_EQ(::unsetenv(name.c_str()), 0);
}

// ---------------------------------------------------------------------------
// Keys bound to the fields of an options struct (ConfigKey::into)

struct BoundOptions {
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;
  double ratio = 0;
  std::vector<std::string> origins;
  std::chrono::milliseconds timeout{};
  std::chrono::seconds idle{};
  std::filesystem::path store_path;
  double per_second = 0;  // an integer key into a floating-point field
};

struct OtherOptions {
  std::int64_t count = 0;
};

std::vector<ConfigKey> bound_keys() {
  return {
      ConfigKey::string("host", "0.0.0.0", "address").env("GRPC_HOST").into(&BoundOptions::host),
      ConfigKey::integer("port", 50051, "TCP port").range(0, 65535).into(&BoundOptions::port),
      ConfigKey::boolean("tls", true, "serve TLS").into(&BoundOptions::tls),
      ConfigKey::number("ratio", 0.5, "a fraction").into(&BoundOptions::ratio),
      ConfigKey::strings("origins", {"http://localhost"}, "origins").into(&BoundOptions::origins),
      ConfigKey::integer("timeout_ms", 2500, "a deadline").into(&BoundOptions::timeout),
      ConfigKey::integer("idle_seconds", 30, "idle time").into(&BoundOptions::idle),
      ConfigKey::string("store_path", "data/chat.db", "a file").into(&BoundOptions::store_path),
      ConfigKey::integer("per_second", 50, "a rate").into(&BoundOptions::per_second),
      ConfigKey::integer("count", 7, "bound elsewhere").into(&OtherOptions::count),
      ConfigKey::string("free", "x", "bound to nothing"),
  };
}

TEST(ConfigBinding, EveryBoundFieldTakesItsKeysValueOrDefault) {
  const auto keys = bound_keys();
  auto source = make_source("[grpc]\nport = 6000\norigins = [\"https://a.example\"]\ntimeout_ms = 100\n",
                            {{"GRPC_HOST", "127.0.0.1"}});
  const PluginConfig config = source.resolve("grpc", keys);
  BoundOptions options;
  config.apply(keys, options);
  EXPECT_EQ(options.host, "127.0.0.1");  // the environment
  EXPECT_EQ(options.port, 6000);         // the file
  EXPECT_TRUE(options.tls);              // defaults
  EXPECT_DOUBLE_EQ(options.ratio, 0.5);
  EXPECT_EQ(options.origins, Strings{"https://a.example"});
  EXPECT_EQ(options.timeout, std::chrono::milliseconds(100));  // counted in the field's unit
  EXPECT_EQ(options.idle, std::chrono::seconds(30));
  EXPECT_EQ(options.store_path, std::filesystem::path("data/chat.db"));
  EXPECT_DOUBLE_EQ(options.per_second, 50.0);

  // A key bound to another struct fills that one only.
  OtherOptions other;
  config.apply(keys, other);
  EXPECT_EQ(other.count, 7);
}

TEST(ConfigBinding, AKeyBoundToAFieldOfAnotherTypeIsAPluginBug) {
  struct Mistaken {
    bool port = false;
  };
  const std::vector<ConfigKey> keys{ConfigKey::integer("port", 1, "a port").into(&Mistaken::port)};
  const PluginConfig config = make_source("").resolve("grpc", keys);
  Mistaken options;
  EXPECT_THROW(config.apply(keys, options), std::logic_error);
}

}  // namespace
}  // namespace chathost
