// Hosts of ws-proxy tests, and the clients they start with: one chat-host
// running grpc-chat and ws-proxy (the developer's laptop), or either of them
// alone (a split deployment), with the tables of config_tables.hpp.
//
//   auto host = all_in_one(dir.path());
//   auto alice = joined_client(*host, "alice", "r");
#pragma once

#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace chathost::test {

// The fixture of ws-proxy's tests, in every file of them: a folder of the
// test's own for its hosts.
class WsProxyTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// One chat-host process running `plugins` (comma-separated, given as the
// --plugins flag over a config that lists grpc-chat and ws-proxy) from a
// config of `tables`; `env` is set for it (the exercise's GRPC_HOST, say).
std::unique_ptr<TestHost> make_host(const std::filesystem::path& dir, const std::string& name,
                                    const std::string& tables, const std::string& plugins,
                                    std::map<std::string, std::string> env = {});

// grpc-chat and ws-proxy in one host; `proxy_extra` adds ws-proxy keys.
std::unique_ptr<TestHost> all_in_one(const std::filesystem::path& dir, const std::string& proxy_extra = "",
                                     std::map<std::string, std::string> env = {},
                                     const std::string& name = "all-in-one");

// The WebSocket target that joins `room` as `user` through the query string.
std::string target(const std::string& user, const std::string& room);

// A client that has joined `room` as `user` through the query string.
std::unique_ptr<WsClient> joined_client(const TestHost& host, const std::string& user, const std::string& room,
                                        std::shared_ptr<WsIo> io = nullptr);

// A chat_message frame as the exercise's clients write it, by hand.
std::string exercise_frame(const std::string& id, const std::string& room, const std::string& sender,
                           const std::string& content);

// tests/node/exercise_ws_client.js, the exercise's client on the `ws` package
// from npm: client1 on the first port, client2 on the last.
::testing::AssertionResult run_exercise_client(const std::vector<std::uint16_t>& ports);

}  // namespace chathost::test
