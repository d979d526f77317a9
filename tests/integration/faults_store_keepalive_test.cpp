// Faults of what lies under the chat service and between the hosts, with
// real host processes on loopback: a store that cannot write or cannot be
// opened, and a host frozen (SIGSTOP) until keepalive gives it up (found
// out within 15 s with pings every second, where without keepalive it never
// is). The kills, restarts and flaps are in faults_test.cpp.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/fault_scenarios.hpp"
#include "support/host_process.hpp"
#include "support/host_variables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <functional>
#include <map>
#include <thread>

namespace chathost::test {
namespace {

using chat::ChatMessage;
using chat::ChatStream;
using chat::Error;

// ---------------------------------------------------------------------------
// A store that cannot write

TEST_F(FaultTest, AStoreThatCannotWriteRefusesMessagesWithoutAckThenStoresAgainOnceItCan) {
  // A file size limit on the service's process: SQLite's writes past it fail
  // as they would on a full disk. A proxy in the same host carries the
  // answers to a WebSocket client too.
  constexpr std::uint64_t kFileSizeLimit = 256 * 1024;
  const auto port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat", "ws-proxy"},
                   chat_table(port, dir_ / "chat.db") + "\n" + proxy_table(port), kFileSizeLimit);
  ChatStreamClient writer(chat_channel("127.0.0.1", port), test_service_token());
  writer.send(join("r", "writer"));
  ASSERT_TRUE(writer.wait_for(is_joined("r"), kPatience));
  auto io = std::make_shared<WsIo>(1);
  auto browser = ws_member(*service, "browser", "r", io);
  const std::string content(3000, 'x');
  const auto error_lines = [&] {
    const auto lines = service->process().lines();
    return std::count_if(lines.begin(), lines.end(), [](const CapturedLine& line) {
      return std::regex_search(line.text, std::regex(R"(error +\[grpc-chat\])"));
    });
  };

  // One at a time until the store is full.
  std::uint64_t acked = 0;
  std::optional<ChatStream> refusal;
  for (int n = 0; n < 1000 && !refusal; ++n) {
    const auto id = "m" + std::to_string(n);
    writer.send(chat_message("r", "writer", content, id));
    auto answer = writer.wait_for(is_answer_to(id), kPatience);
    ASSERT_TRUE(answer) << id << "\n" << service->process().output();
    if (answer->has_error()) {
      refusal = answer;
    } else {
      EXPECT_EQ(answer->ack().sequence(), ++acked);
    }
  }
  ASSERT_TRUE(refusal) << "the store never filled up";
  ASSERT_GT(acked, 0U);
  EXPECT_EQ(refusal->error().code(), Error::STORE_FAILED) << refusal->DebugString();
  EXPECT_EQ(refusal->error().frame(), "chat_message");
  EXPECT_EQ(refusal->error().room_id(), "r");

  // Still full: a burst, every message refused, none acknowledged.
  for (int n = 0; n < 20; ++n) writer.send(chat_message("r", "writer", content, "full" + std::to_string(n)));
  for (int n = 0; n < 20; ++n) {
    const auto answer = writer.wait_for(is_answer_to("full" + std::to_string(n)), kPatience);
    ASSERT_TRUE(answer);
    ASSERT_TRUE(answer->has_error()) << answer->DebugString();
    EXPECT_EQ(answer->error().code(), Error::STORE_FAILED);
  }
  EXPECT_EQ(acks_in(writer.events()).size(), acked);
  browser->send(chat_message("r", "browser", "from the page", "w1"));
  const auto page_refusal = browser->wait_for(is_answer_to("w1"), kPatience);
  ASSERT_TRUE(page_refusal);
  ASSERT_TRUE(page_refusal->has_error()) << page_refusal->DebugString();
  EXPECT_EQ(page_refusal->error().code(), Error::STORE_FAILED);
  // The service lives on, says why once, and serves what it has.
  EXPECT_TRUE(service->process().running());
  EXPECT_TRUE(service->process().wait_for_line(std::regex(R"(\[grpc-chat\] the store cannot write.*sqlite)"), kPatience))
      << service->process().output();
  EXPECT_EQ(error_lines(), 1) << service->process().output();
  EXPECT_EQ(stored_messages(port, "r").size(), acked);

  // Space comes back.
  rlimit limit{};
  ASSERT_EQ(::prlimit(service->process().pid(), RLIMIT_FSIZE, nullptr, &limit), 0);
  limit.rlim_cur = limit.rlim_max;
  ASSERT_EQ(::prlimit(service->process().pid(), RLIMIT_FSIZE, &limit, nullptr), 0);
  for (int n = 0; n < 5; ++n) {
    const auto id = "after" + std::to_string(n);
    writer.send(chat_message("r", "writer", content, id));
    const auto answer = writer.wait_for(is_answer_to(id), kPatience);
    ASSERT_TRUE(answer);
    ASSERT_TRUE(answer->has_ack()) << answer->DebugString() << "\n" << service->process().output();
    // No sequence went to the refused messages.
    EXPECT_EQ(answer->ack().sequence(), ++acked);
  }
  browser->send(chat_message("r", "browser", "from the page", "w2"));
  const auto page_ack = browser->wait_for(is_answer_to("w2"), kPatience);
  ASSERT_TRUE(page_ack);
  ASSERT_TRUE(page_ack->has_ack()) << page_ack->DebugString();
  EXPECT_EQ(page_ack->ack().sequence(), ++acked);
  EXPECT_TRUE(service->process().wait_for_line(std::regex(R"(\[grpc-chat\] the store writes again)"), kPatience))
      << service->process().output();
  EXPECT_EQ(error_lines(), 1) << service->process().output();
  const auto stored = stored_messages(port, "r");
  EXPECT_EQ(stored.size(), acked);
  auto acks = acks_in(writer.events());
  add_acks(acks, browser->events());
  EXPECT_TRUE(holds_each_ack_once(stored, "r", acks));
}

// ---------------------------------------------------------------------------
// A store that cannot be opened at start

TEST_F(FaultTest, AStoreThatCannotBeOpenedStopsTheHostWithOneLineNamingItAndNoPortLeftOpen) {
  // grpc-chat listed last: the bridges would start first.
  write_file(dir_ / "plain", "a file where a directory should be");
  write_file(dir_ / "text.db", std::string(4096, 'x'));  // a file, but no database
  struct Case {
    std::string name;
    std::filesystem::path store;
    std::string why;  // in the error line
    bool bridges_started;
  };
  const std::vector<Case> cases{
      // Seen in configure, before any plugin starts.
      {"under-a-file", dir_ / "plain" / "chat.db", "is not a directory", false},
      {"a-directory", dir_.path(), "is a directory", false},
      // Found when the store opens, before grpc-chat's port; the bridges
      // that started are stopped again.
      {"not-a-database", dir_ / "text.db", "not a database", true},
  };
  for (const auto& c : cases) {
    const auto grpc_port = free_tcp_port();
    const auto ws_port = free_tcp_port();
    const auto http_port = free_tcp_port();
    const auto config = dir_ / c.name / "chat.toml";
    write_file(config, "[host]\nplugins = [\"ws-proxy\", \"history-http\", \"grpc-chat\"]\n\n" +
                           chat_table(grpc_port, c.store) + "\n" + proxy_table(grpc_port, "", ws_port) +
                           "\n[history-http]\nhost = \"127.0.0.1\"\nport = " + std::to_string(http_port) +
                           "\nchat_port = " + std::to_string(grpc_port) + "\n");
    HostProcess host(ProcessOptions{.executable = host_binary(),
                                    .args = {"--config", config.string()},
                                    .unset_env = host_variables(),
                                    .working_dir = dir_ / c.name});
    const auto exit_code = host.wait_exit(kPatience);
    ASSERT_TRUE(exit_code) << c.name << ": still running\n" << host.output();
    EXPECT_NE(*exit_code, 0) << c.name << "\n" << host.output();
    // One error line, naming the plugin, the key, the path and why.
    std::vector<std::string> errors;
    for (const auto& line : host.lines()) {
      if (std::regex_search(line.text, std::regex(R"(^\S+ \S+ (error|crit))"))) errors.push_back(line.text);
    }
    ASSERT_EQ(errors.size(), 1U) << c.name << "\n" << host.output();
    for (const auto& part : {std::string("grpc-chat"), std::string("store_path"), c.store.string(), c.why}) {
      EXPECT_NE(errors[0].find(part), std::string::npos) << c.name << ": no \"" << part << "\" in\n" << errors[0];
    }
    EXPECT_EQ(host.output().find("ready in"), std::string::npos) << c.name << "\n" << host.output();
    EXPECT_EQ(host.output().find("serving WebSockets") != std::string::npos, c.bridges_started)
        << c.name << "\n" << host.output();
    // Nothing listens after it.
    for (const auto port : {grpc_port, ws_port, http_port}) {
      EXPECT_FALSE(can_connect("127.0.0.1", port, 500ms)) << c.name << ": port " << port << " open";
    }
  }
}

// ---------------------------------------------------------------------------
// A frozen host: keepalive finds what TCP alone never would

// Sends a message of `user` into `room` through `client` until one is
// acknowledged (a chat service coming back may drop a connection once more
// before it settles); the id of the one that was.
std::optional<std::string> send_until_acknowledged(WsClient& client, const std::string& room, const std::string& user,
                                                   const std::string& prefix) {
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  for (int n = 0; std::chrono::steady_clock::now() < deadline; ++n) {
    const auto id = message_id(prefix, n);
    client.send(chat_message(room, user, "are you there", id));
    const auto answer = client.wait_for(is_answer_to(id), kPatience);
    if (answer && answer->has_ack()) return id;
    std::this_thread::sleep_for(200ms);
  }
  return std::nullopt;
}

TEST_F(FaultTest, AFrozenChatServiceHostIsToldUnavailableThroughKeepaliveAndChatResumesOnceItThaws) {
  const auto port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port, {}, kQuickServerKeepalive));
  auto proxy = chat_host(dir_.path(), "proxy", {"ws-proxy"}, proxy_table(port, kQuickChannelKeepalive));
  auto io = std::make_shared<WsIo>(1);
  auto alice = ws_member(*proxy, "alice", "r", io);
  auto bob = ws_member(*proxy, "bob", "r", io);
  ASSERT_TRUE(alice->wait_available(kPatience));
  ASSERT_TRUE(bob->wait_available(kPatience));

  // Frozen: its connections stay up, the kernel acks, nothing answers. Only
  // the channel's unanswered pings (1 s, then 1 s) tell the proxy.
  const auto marks = std::pair(alice->size(), bob->size());
  Frozen frozen(*service);
  constexpr auto kWithinSeconds = 15s;
  ASSERT_TRUE(alice->wait_for(is_service_status(false), kWithinSeconds, marks.first)) << proxy->process().output();
  ASSERT_TRUE(bob->wait_for(is_service_status(false), kWithinSeconds, marks.second)) << proxy->process().output();
  // Meanwhile messages are refused, not lost in a silent stream.
  alice->send(chat_message("r", "alice", "while frozen", "frozen-1"));
  const auto refused = alice->wait_for(is_answer_to("frozen-1"), kPatience);
  ASSERT_TRUE(refused);
  ASSERT_TRUE(refused->has_error()) << refused->DebugString();
  EXPECT_EQ(refused->error().code(), Error::UNAVAILABLE);

  const auto thawed_at = std::pair(alice->size(), bob->size());
  frozen.thaw();
  ASSERT_TRUE(alice->wait_for(is_service_status(true), kPatience, thawed_at.first)) << proxy->process().output();
  ASSERT_TRUE(bob->wait_for(is_service_status(true), kPatience, thawed_at.second)) << proxy->process().output();
  const auto id = send_until_acknowledged(*alice, "r", "alice", "thawed");
  ASSERT_TRUE(id) << proxy->process().output();
  ASSERT_TRUE(bob->wait_for(is_message_id(*id), kPatience));
  EXPECT_TRUE(service->process().running());
  EXPECT_TRUE(proxy->process().running());
}

TEST_F(FaultTest, AFrozenProxyHostIsDroppedByKeepaliveItsUsersLeaveAndItsClientsRecoverOnceItThaws) {
  const auto port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port, {}, kQuickServerKeepalive));
  auto proxy = chat_host(dir_.path(), "proxy", {"ws-proxy"}, proxy_table(port, kQuickChannelKeepalive));
  auto io = std::make_shared<WsIo>(1);
  auto alice = ws_member(*proxy, "alice", "r", io);  // on the proxy that freezes
  ChatStreamClient carol(chat_channel("127.0.0.1", port), test_service_token());  // straight to the chat service
  carol.send(join("r", "carol"));
  const auto snapshot = carol.wait_for(is_presence("r", chat::Presence::SNAPSHOT), kPatience);
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(std::vector<std::string>(snapshot->presence().online().begin(), snapshot->presence().online().end()),
            (std::vector<std::string>{"alice", "carol"}));
  alice->send(chat_message("r", "alice", "before", "a0"));
  ASSERT_TRUE(carol.wait_for(is_message_id("a0"), kPatience));

  // Frozen: the chat service's pings to it go unanswered, so it ends the
  // proxy's streams, and alice leaves the room as far as anyone can tell.
  Frozen frozen(*proxy);
  const auto left = carol.wait_for(is_presence("r", chat::Presence::LEFT, "alice"), 15s);
  ASSERT_TRUE(left) << service->process().output();
  EXPECT_EQ(left->presence().online_count(), 1U);  // carol alone
  // What alice misses meanwhile.
  for (int n = 0; n < 3; ++n) {
    const auto id = "c" + std::to_string(n);
    carol.send(chat_message("r", "carol", "while alice's proxy is frozen", id));
    ASSERT_TRUE(carol.wait_for(is_ack_for(id), kPatience));
  }

  // Thawed, the proxy finds its streams gone, reconnects, joins again with
  // since: alice gets what she missed, once, in order, and chats again.
  const auto mark = carol.events().size();
  frozen.thaw();
  ASSERT_TRUE(carol.wait_for(is_presence("r", chat::Presence::JOINED, "alice"), kPatience, mark))
      << proxy->process().output();
  ASSERT_TRUE(alice->wait_for(is_message_id("c2"), kPatience)) << proxy->process().output();
  const auto id = send_until_acknowledged(*alice, "r", "alice", "thawed");
  ASSERT_TRUE(id) << proxy->process().output();
  ASSERT_TRUE(carol.wait_for(is_message_id(*id), kPatience));
  ASSERT_TRUE(alice->wait_for(is_message_id(*id), kPatience));
  const auto at_carol = sequences_in(carol.events(), "r");
  ASSERT_EQ(at_carol, range(1, at_carol.size()));
  EXPECT_EQ(sequences_in(alice->events(), "r"), at_carol);
}

}  // namespace
}  // namespace chathost::test
