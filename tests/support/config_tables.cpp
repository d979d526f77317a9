#include "support/config_tables.hpp"

#include "support/test_helpers.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>
#include <utility>
#include <vector>

namespace chathost::test {
namespace {

using Keys = std::vector<std::pair<std::string, std::string>>;

// Whether a table's text sets `key` (at the start of a line).
bool sets_key(const std::string& table, const std::string& key) {
  return std::regex_search(table, std::regex("(^|\\n)" + key + " *="));
}

std::string table(const std::string& name, const Keys& defaults, const std::string& extra) {
  std::string text = "[" + name + "]\n";
  for (const auto& [key, value] : defaults) {
    if (!sets_key(extra, key)) text += key + " = " + value + "\n";
  }
  return text + extra + "\n";
}

}  // namespace

std::string grpc_chat_table(std::uint16_t port, const std::string& extra) {
  return table("grpc-chat", {{"host", "\"127.0.0.1\""}, {"port", std::to_string(port)}, {"store", "\"memory\""}},
               extra);
}

std::string ws_proxy_table(std::uint16_t chat_port, const std::string& extra) {
  return table("ws-proxy",
               {{"host", "\"127.0.0.1\""},
                {"port", "0"},
                {"threads", "2"},
                {"chat_port", std::to_string(chat_port)},
                {"reconnect_min_ms", "100"},
                {"reconnect_max_ms", "300"}},
               extra);
}

std::string history_http_table(std::uint16_t chat_port, const std::string& extra) {
  return table("history-http", {{"host", "\"127.0.0.1\""}, {"port", "0"}, {"chat_port", std::to_string(chat_port)}},
               extra);
}

std::string chat_table(std::uint16_t port, const std::filesystem::path& store, const std::string& extra) {
  std::string keys = service_token_key();
  if (!store.empty()) keys += "store = \"sqlite\"\nsync = \"normal\"\n" + path_key("store_path", store);
  return grpc_chat_table(port, keys + extra);
}

std::string proxy_table(std::uint16_t chat_port, const std::string& extra, std::uint16_t port) {
  std::string keys = service_token_key();
  if (!sets_key(extra, "allowed_origins")) keys += std::string("allowed_origins = [\"") + kAllowedOrigin + "\"]\n";
  if (port != 0) keys += "port = " + std::to_string(port) + "\n";
  return ws_proxy_table(chat_port, keys + extra);
}

const std::string& test_service_token() {
  static const std::string token = "the service token of this test run, " + std::to_string(::getpid());
  return token;
}

std::string service_token_key() {
  static const std::filesystem::path path = [] {
    const auto dir = std::filesystem::path(::testing::TempDir()) / ("chat-host-tests-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return write_secret_file(dir, "service-token", test_service_token());
  }();
  return path_key("service_token_file", path);
}

std::filesystem::path write_secret_file(const std::filesystem::path& dir, const std::string& name,
                                        const std::string& text) {
  const auto path = dir / name;
  write_file(path, text);
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return path;
}

std::string path_key(const std::string& key, const std::filesystem::path& path) {
  return key + " = \"" + path.string() + "\"\n";
}

}  // namespace chathost::test
