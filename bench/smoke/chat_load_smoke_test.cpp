// chat-load as a child process, each mode once, for a few seconds: against
// RoomEchoServer (the exercise's room semantics, in this process) and
// against a real chat-host with grpc-chat, ws-proxy and history-http; and
// the history mode (bench/history_load.sh: chat-load seeds, wrk reads), and
// chat-ingest straight into that host's grpc-chat. They
// check that the generators count right, never how fast anything is.
#include "room_echo_server.hpp"
#include "support/host_process.hpp"
#include "support/test_helpers.hpp"

#include <unistd.h>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <regex>
#include <utility>

namespace chathost::bench::test {
namespace {

using namespace std::chrono_literals;
using chathost::test::HostProcess;
using chathost::test::ProcessOptions;
using chathost::test::Stream;
using chathost::test::TempDir;

struct LoadRun {
  std::optional<int> exit_code;
  boost::json::object json;  // the --json line
  std::string output;        // everything it printed, for failure messages
};

// Runs a benchmark tool to its end; its results are the JSON object it prints on stdout.
LoadRun run_tool(ProcessOptions options, std::chrono::milliseconds timeout = 40s) {
  HostProcess tool(std::move(options));
  LoadRun run;
  run.exit_code = tool.wait_exit(timeout);
  run.output = tool.output();
  for (const auto& line : tool.lines()) {
    if (line.stream == Stream::Stdout && line.text.starts_with('{')) {
      boost::system::error_code ec;
      auto value = boost::json::parse(line.text, ec);
      if (!ec && value.is_object()) run.json = value.as_object();
    }
  }
  return run;
}

LoadRun run_chat_load(std::vector<std::string> args, std::chrono::milliseconds timeout = 40s) {
  args.emplace_back("--json");
  return run_tool(ProcessOptions{.executable = CHAT_LOAD_BINARY, .args = std::move(args)}, timeout);
}

std::uint64_t number(const boost::json::object& json, std::string_view key) {
  const auto& value = json.at(key);
  return value.is_uint64() ? value.as_uint64() : static_cast<std::uint64_t>(value.to_number<double>());
}

double real(const boost::json::object& json, std::string_view key) { return json.at(key).to_number<double>(); }

const boost::json::object& first_process(const boost::json::object& json) {
  return json.at("processes").as_array().at(0).as_object();
}

// ---------------------------------------------------------------------------
// Against RoomEchoServer

TEST(ChatLoadSmoke, FanOutCountsEveryDeliveryToEveryMemberOfItsRoom) {
  RoomEchoServer server;
  auto run = run_chat_load({"--url", server.url(), "--clients", "20", "--rooms", "2", "--rate", "200",
                            "--warmup", "0.5", "--duration", "1.5", "--size", "100", "--pid",
                            "tests=" + std::to_string(::getpid())});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_FALSE(run.json.empty()) << run.output;
  const auto& j = run.json;
  EXPECT_EQ(j.at("mode").as_string(), "fanout");
  EXPECT_EQ(number(j, "connected"), 20u);
  EXPECT_EQ(number(j, "joined"), 20u);
  EXPECT_GT(number(j, "sent"), 0u);
  // Ten members per room, the sender included.
  EXPECT_EQ(number(j, "expected_deliveries"), 10 * number(j, "sent"));
  EXPECT_EQ(number(j, "deliveries"), number(j, "expected_deliveries"));
  EXPECT_EQ(real(j, "delivery_ratio"), 1.0) << run.output;
  EXPECT_EQ(number(j, "errors"), 0u) << run.output;
  EXPECT_GT(number(j, "other_frames"), 0u) << "presence and ack frames are there, and ignored";
  EXPECT_EQ(number(j.at("latency_ms").as_object(), "samples"), number(j, "deliveries"));
  EXPECT_GT(real(j.at("latency_ms").as_object(), "max"), 0.0);
  EXPECT_GT(number(first_process(j), "rss_kib"), 0u);
  EXPECT_EQ(first_process(j).at("name").as_string(), "tests");
  EXPECT_NE(run.output.find("deliveries/s"), std::string::npos) << "the table goes to stderr with --json";
}

TEST(ChatLoadSmoke, SpreadsClientsOverSeveralUrlsAndSourceAddresses) {
  RoomEchoServer first;
  RoomEchoServer second;
  // Client i goes to URL i mod 2 and room i mod 2: each room lives on one server.
  auto run = run_chat_load({"--url", first.url() + "," + second.url(), "--source-addresses", "127.0.0.2,127.0.0.3",
                            "--clients", "16", "--rooms", "2", "--senders", "4", "--rate", "100", "--warmup",
                            "0.3", "--duration", "1", "--threads", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_FALSE(run.json.empty()) << run.output;
  EXPECT_EQ(number(run.json, "connected"), 16u);
  EXPECT_EQ(number(run.json, "source_addresses"), 2u);
  EXPECT_EQ(real(run.json, "delivery_ratio"), 1.0) << run.output;
  EXPECT_EQ(number(run.json, "errors"), 0u) << run.output;
}

TEST(ChatLoadSmoke, IdleHoldsEveryConnectionAndReportsMemoryPerConnection) {
  RoomEchoServer server;
  auto run = run_chat_load({"--idle", "--url", server.url(), "--clients", "12", "--hold", "1", "--ping-interval",
                            "0.2", "--pid", "tests=" + std::to_string(::getpid())});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_FALSE(run.json.empty()) << run.output;
  EXPECT_EQ(run.json.at("mode").as_string(), "idle");
  EXPECT_EQ(number(run.json, "open_at_end"), 12u);
  EXPECT_EQ(number(run.json, "errors"), 0u) << run.output;
  EXPECT_TRUE(first_process(run.json).contains("rss_per_connection_kib"));
}

TEST(ChatLoadSmoke, SeedPutsTheMessagesIntoTheRoomAndExits) {
  RoomEchoServer server;
  auto run = run_chat_load({"--url", server.url(), "--seed-room", "history-1", "--seed-count", "50"});
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ASSERT_FALSE(run.json.empty()) << run.output;
  EXPECT_EQ(run.json.at("mode").as_string(), "seed");
  EXPECT_EQ(number(run.json, "seeded"), 50u);
  EXPECT_EQ(number(run.json, "errors"), 0u) << run.output;
}

TEST(ChatLoadSmoke, NoServerIsAnErrorExitNotAHang) {
  const auto port = chathost::test::free_tcp_port();
  auto run = run_chat_load({"--url", "ws://127.0.0.1:" + std::to_string(port) + "/", "--clients", "3",
                            "--connect-timeout", "5"});
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("no connection opened"), std::string::npos) << run.output;
}

// ---------------------------------------------------------------------------
// Against chat-host: grpc-chat and ws-proxy in one host (skipped until the
// ws-proxy plugin is built)

std::filesystem::path ws_proxy_plugin() { return std::filesystem::path(CHATHOST_PLUGIN_BUILD_DIR) / "ws-proxy.so"; }
std::filesystem::path history_http_plugin() {
  return std::filesystem::path(CHATHOST_PLUGIN_BUILD_DIR) / "history-http.so";
}

class ChatHostSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& plugin : {ws_proxy_plugin(), history_http_plugin()}) {
      ASSERT_TRUE(std::filesystem::exists(plugin)) << "no plugin at " << plugin;
    }
    const auto grpc_port = std::to_string(chathost::test::free_tcp_port());
    grpc_target_ = "127.0.0.1:" + grpc_port;
    // grpc-chat wants it of callers from outside (chat-ingest); the host's
    // own bridges get in with its secret.
    token_file_ = dir_ / "service-token";
    chathost::test::write_file(token_file_, "the smoke test's service token, long enough");
    std::filesystem::permissions(token_file_, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto ws_port = std::to_string(chathost::test::free_tcp_port());
    const auto http_port = std::to_string(chathost::test::free_tcp_port());
    http_url_ = "http://127.0.0.1:" + http_port;
    chathost::test::write_file(dir_ / "chat.toml", R"([host]
plugins = ["grpc-chat", "ws-proxy", "history-http"]

[grpc-chat]
host = "127.0.0.1"
port = )" + grpc_port + R"(
store = "memory"
service_token_file = ")" + token_file_.string() + R"("

[ws-proxy]
host = "127.0.0.1"
port = )" + ws_port + R"(

[history-http]
host = "127.0.0.1"
port = )" + http_port + "\n");
    host_ = std::make_unique<HostProcess>(ProcessOptions{
        .executable = chathost::test::host_binary(),
        .args = {"--config", (dir_ / "chat.toml").string()},
        // The exercise's variables, so the proxy finds this grpc-chat however it is configured.
        .env = {{"GRPC_HOST", "127.0.0.1"}, {"GRPC_PORT", grpc_port}},
        .unset_env = {"CHATHOST_PLUGINS", "CHATHOST_PLUGIN_PATH", "CHAT_STORE", "CHAT_STORE_PATH", "WS_HOST",
                      "WS_PORT", "HTTP_HOST", "HTTP_PORT"},
        .working_dir = dir_.path()});
    auto ready = host_->wait_for_line(std::regex(R"(ready in \d+ ms: .*ws-proxy)"));
    ASSERT_TRUE(ready) << host_->output();
    // The URL the proxy says it listens on; a wildcard address is reached through loopback.
    std::smatch url;
    if (std::regex_search(ready->line, url, std::regex(R"(ws://(0\.0\.0\.0|127\.0\.0\.1|localhost)?:?(\d+))"))) {
      url_ = "ws://127.0.0.1:" + url[2].str() + "/";
    } else {
      url_ = "ws://127.0.0.1:" + ws_port + "/";
    }
  }

  void TearDown() override {
    if (host_) {
      host_->signal(SIGTERM);
      EXPECT_EQ(host_->wait_exit(), 0) << host_->output();
    }
  }

  TempDir dir_;
  std::unique_ptr<HostProcess> host_;
  std::string url_;       // the WebSocket side
  std::string http_url_;  // history-http
  std::string grpc_target_;  // grpc-chat
  std::filesystem::path token_file_;
};

TEST_F(ChatHostSmoke, FanOutDeliversEveryMessageToItsRoom) {
  auto run = run_chat_load({"--url", url_, "--clients", "20", "--rooms", "2", "--rate", "100", "--warmup", "0.5",
                            "--duration", "2", "--pid", "chat-host=" + std::to_string(host_->pid())});
  ASSERT_EQ(run.exit_code, 0) << run.output << host_->output();
  ASSERT_FALSE(run.json.empty()) << run.output;
  EXPECT_GT(number(run.json, "sent"), 0u);
  EXPECT_EQ(real(run.json, "delivery_ratio"), 1.0) << run.output;
  EXPECT_EQ(number(run.json, "errors"), 0u) << run.output;
  EXPECT_GT(number(first_process(run.json), "rss_kib"), 0u);
}

TEST_F(ChatHostSmoke, HistoryModeSeedsARoomAndReadsItsPages) {
  auto run = run_tool(ProcessOptions{
      .executable = "/bin/bash",
      .args = {HISTORY_LOAD_SCRIPT, "--http", http_url_, "--ws", url_, "--seed", "20", "--limit", "20", "--threads",
               "1", "--connections", "4", "--duration", "1", "--chat-load", CHAT_LOAD_BINARY, "--json"}});
  ASSERT_EQ(run.exit_code, 0) << run.output << host_->output();
  ASSERT_FALSE(run.json.empty()) << run.output;
  EXPECT_EQ(number(run.json, "messages_per_response"), 20u) << run.output;
  EXPECT_GT(number(run.json, "requests"), 0u) << run.output;
  EXPECT_EQ(number(run.json, "non_2xx"), 0u) << run.output;
  EXPECT_EQ(number(run.json, "socket_errors"), 0u) << run.output;
}

TEST_F(ChatHostSmoke, IngestCountsTheAcksOfMessagesSentInBatchesOrOneByOne) {
  for (const std::string batches : {"on", "off"}) {
    auto run = run_tool(ProcessOptions{
        .executable = CHAT_INGEST_BINARY,
        .args = {"--target", grpc_target_, "--service-token-file", token_file_.string(), "--streams", "2", "--window",
                 "64", "--warmup", "0.2", "--duration", "1", "--batches", batches, "--json"}});
    ASSERT_EQ(run.exit_code, 0) << run.output << host_->output();
    ASSERT_FALSE(run.json.empty()) << run.output;
    EXPECT_EQ(run.json.at("batches").as_bool(), batches == "on") << run.output;
    EXPECT_GT(number(run.json, "acked"), 0u) << run.output;
    EXPECT_GE(number(run.json, "acked_total"), number(run.json, "acked")) << run.output;
    EXPECT_EQ(number(run.json, "refused"), 0u) << run.output;
  }
}

TEST_F(ChatHostSmoke, IdleConnectionsStayOpen) {
  auto run = run_chat_load({"--idle", "--url", url_, "--clients", "10", "--hold", "1", "--ping-interval", "0.3",
                            "--pid", "chat-host=" + std::to_string(host_->pid())});
  ASSERT_EQ(run.exit_code, 0) << run.output << host_->output();
  ASSERT_FALSE(run.json.empty()) << run.output;
  EXPECT_EQ(number(run.json, "open_at_end"), 10u);
  EXPECT_EQ(number(run.json, "errors"), 0u) << run.output;
}

}  // namespace
}  // namespace chathost::bench::test
