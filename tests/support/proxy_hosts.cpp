#include "support/proxy_hosts.hpp"

#include "support/config_tables.hpp"
#include "support/host_process.hpp"
#include "support/test_helpers.hpp"

#include <stdexcept>

namespace chathost::test {

std::unique_ptr<TestHost> make_host(const std::filesystem::path& dir, const std::string& name,
                                    const std::string& tables, const std::string& plugins,
                                    std::map<std::string, std::string> env) {
  return std::make_unique<TestHost>(dir, TestHostOptions{.name = name,
                                                         .plugins = {"grpc-chat", "ws-proxy"},
                                                         .tables = tables,
                                                         .args = {"--plugins", plugins},
                                                         .env = std::move(env)});
}

std::unique_ptr<TestHost> all_in_one(const std::filesystem::path& dir, const std::string& proxy_extra,
                                     std::map<std::string, std::string> env,
                                     const std::string& name) {
  const auto chat_port = free_tcp_port();
  return make_host(dir, name, chat_table(chat_port) + "\n" + proxy_table(chat_port, proxy_extra),
                   "grpc-chat,ws-proxy", std::move(env));
}

std::string target(const std::string& user, const std::string& room) { return "/?user=" + user + "&room=" + room; }

std::unique_ptr<WsClient> joined_client(const TestHost& host, const std::string& user, const std::string& room,
                                        std::shared_ptr<WsIo> io) {
  auto client = std::make_unique<WsClient>(ws_to(host, target(user, room)), std::move(io));
  if (!client->wait_for(is_joined(room))) throw std::runtime_error(user + " got no joined for " + room);
  return client;
}

std::string exercise_frame(const std::string& id, const std::string& room, const std::string& sender,
                           const std::string& content) {
  return R"({"chat_message":{"id":")" + id + R"(","room_id":")" + room + R"(","sender_id":")" + sender +
         R"(","content":")" + content + R"("}})";
}

::testing::AssertionResult run_exercise_client(const std::vector<std::uint16_t>& ports) {
  const auto node_dir = source_dir() / "tests" / "node";
  if (!std::filesystem::exists(node_dir / "node_modules" / "ws")) {
    return ::testing::AssertionFailure() << "run scripts/install-deps.sh --test (npm ci in tests/node)";
  }
  std::vector<std::string> args{"node", (node_dir / "exercise_ws_client.js").string()};
  for (const auto port : ports) args.push_back("ws://127.0.0.1:" + std::to_string(port));
  HostProcess node(ProcessOptions{.executable = "/usr/bin/env", .args = args, .working_dir = node_dir});
  const auto exit_code = node.wait_exit(30s);
  if (exit_code != 0 || !node.wait_for_line(std::regex("^OK$"), 1s, 0, Stream::Stdout) ||
      !node.wait_for_line(std::regex(R"(client1 \{"chat_message":\{"id":"msg1","room_id":"room1")"), 1s)) {
    return ::testing::AssertionFailure() << "exit " << (exit_code ? std::to_string(*exit_code) : "none") << ":\n"
                                         << node.output();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace chathost::test
