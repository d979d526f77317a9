// The config tables integration tests start hosts with: each plugin on
// 127.0.0.1 and any free port (0), quick to reconnect, with `extra` keys
// added, or replacing a default of the same name (TOML refuses a key set
// twice, so a key `extra` sets is left out of the defaults).
//
//   TestHost host(dir.path(), {.plugins = {"grpc-chat", "ws-proxy"},
//                              .tables = grpc_chat_table() + ws_proxy_table(chat_port, "max_connections = 2\n")});
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace chathost::test {

// [grpc-chat] on 127.0.0.1:port (0: any free port), memory store.
std::string grpc_chat_table(std::uint16_t port = 0, const std::string& extra = "");
// [ws-proxy] on 127.0.0.1, any free port, 2 threads, talking to grpc-chat at chat_port.
std::string ws_proxy_table(std::uint16_t chat_port, const std::string& extra = "");
// [history-http] on 127.0.0.1, any free port, talking to grpc-chat at chat_port.
std::string history_http_table(std::uint16_t chat_port, const std::string& extra = "");

// The tables of a deployment whose hosts share the service token (below), as
// the hosts of one deployment do: [grpc-chat] on 127.0.0.1:port, SQLite at
// `store` (memory when empty); [ws-proxy] on `port` (0: any free one),
// reconnecting quickly to grpc-chat at chat_port, pages from kAllowedOrigin
// allowed. `extra` adds keys or replaces these.
inline constexpr const char* kAllowedOrigin = "https://chat.example.org";
std::string chat_table(std::uint16_t port, const std::filesystem::path& store = {}, const std::string& extra = "");
std::string proxy_table(std::uint16_t chat_port, const std::string& extra = "", std::uint16_t port = 0);

// The service token every host of this test process shares, as the hosts
// of one deployment do (a file made once, readable by its owner only), and
// the key line that gives it to a plugin: grpc-chat then wants it of every
// caller, and the bridges present it.
const std::string& test_service_token();
std::string service_token_key();

// Writes `text` to <dir>/<name>, readable by its owner only (as secrets
// must be), and returns the path.
std::filesystem::path write_secret_file(const std::filesystem::path& dir, const std::string& name,
                                        const std::string& text);

// A key line: `key = "value"` with the path quoted for TOML.
std::string path_key(const std::string& key, const std::filesystem::path& path);

}  // namespace chathost::test
