// Several grpc-chat nodes sharing rooms through one PostgreSQL: members on
// different nodes see one gap-free order, a client that comes back through
// another node gets exactly what it missed, and a lost wake-up (the LISTEN
// connection cut) loses no delivery.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_postgres.hpp"
#include "support/ws_client.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace chathost::test {
namespace {

using namespace std::chrono_literals;

// A grpc-chat node on the test's database.
std::unique_ptr<TestHost> chat_node(const std::filesystem::path& dir, const TestDatabase& database,
                                    const std::string& node) {
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = node,
                           .plugins = {"grpc-chat"},
                           .tables = grpc_chat_table(0, "store = \"postgres\"\nnode_id = \"" + node + "\"\n"),
                           .env = {{"DATABASE_URL", database.url()}}});
}

// The sequences of the chat messages of `room` among `events`, in arrival order.
template <typename Events>
std::vector<std::uint64_t> sequences_in(const Events& events, const std::string& room) {
  std::vector<std::uint64_t> sequences;
  for (const auto& event : events) {
    if (event.has_chat_message() && event.chat_message().room_id() == room) {
      sequences.push_back(event.chat_message().sequence());
    }
  }
  return sequences;
}

std::vector<std::uint64_t> one_to(std::uint64_t last) {
  std::vector<std::uint64_t> all;
  for (std::uint64_t s = 1; s <= last; ++s) all.push_back(s);
  return all;
}

TEST(ChatNodes, MembersOnTwoNodesSeeOneGapFreeOrderWhileBothNodesCommit) {
  TempDir dir;
  TestDatabase database;
  auto a = chat_node(dir.path(), database, "node-a");
  auto b = chat_node(dir.path(), database, "node-b");
  // Browsers on proxies pinned to each node, and bridges' streams direct.
  TestHost proxy_a(dir.path(), {.name = "proxy-a", .plugins = {"ws-proxy"}, .tables = ws_proxy_table(a->port("grpc-chat"))});
  TestHost proxy_b(dir.path(), {.name = "proxy-b", .plugins = {"ws-proxy"}, .tables = ws_proxy_table(b->port("grpc-chat"))});
  WsClient alice({.port = proxy_a.port("ws-proxy"), .target = "/?user=alice"});
  WsClient bob({.port = proxy_b.port("ws-proxy"), .target = "/?user=bob"});
  alice.send(join("r", "alice"));
  bob.send(join("r", "bob"));
  ASSERT_TRUE(alice.wait_for(is_joined("r")));
  ASSERT_TRUE(bob.wait_for(is_joined("r")));

  // Both nodes commit to the room at once: each sender on its own node.
  constexpr int kEach = 100;
  std::thread from_a([&] {
    for (int i = 0; i < kEach; ++i) alice.send(chat_message("r", "alice", "a" + std::to_string(i), "a" + std::to_string(i)));
  });
  std::thread from_b([&] {
    for (int i = 0; i < kEach; ++i) bob.send(chat_message("r", "bob", "b" + std::to_string(i), "b" + std::to_string(i)));
  });
  from_a.join();
  from_b.join();

  const auto on_a = alice.wait_for_count(is_message_in("r"), 2 * kEach, 20s);
  const auto on_b = bob.wait_for_count(is_message_in("r"), 2 * kEach, 20s);
  ASSERT_EQ(on_a.size(), 2u * kEach);
  ASSERT_EQ(on_b.size(), 2u * kEach);
  // One order: 1..200 on both nodes, and the same message at each number.
  EXPECT_EQ(sequences_in(on_a, "r"), one_to(2 * kEach));
  EXPECT_EQ(sequences_in(on_b, "r"), one_to(2 * kEach));
  for (std::size_t i = 0; i < on_a.size(); ++i) {
    EXPECT_EQ(on_a[i].chat_message().content(), on_b[i].chat_message().content()) << "at " << i;
  }
  // Nothing more arrives: no message twice.
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(alice.events_matching(is_message_in("r")).size(), 2u * kEach);
  EXPECT_EQ(bob.events_matching(is_message_in("r")).size(), 2u * kEach);
  EXPECT_EQ(database.query("SELECT count(*) FROM messages WHERE room_id = 'r'"), std::to_string(2 * kEach));
}

TEST(ChatNodes, AClientBackThroughTheOtherNodeWithSinceGetsExactlyWhatItMissed) {
  TempDir dir;
  TestDatabase database;
  auto a = chat_node(dir.path(), database, "node-a");
  auto b = chat_node(dir.path(), database, "node-b");
  std::uint64_t seen = 0;
  {
    ChatStreamClient carol(chat_channel("127.0.0.1", a->port("grpc-chat")));
    carol.send(join("r", "carol"));
    ASSERT_TRUE(carol.wait_for(is_joined("r")));
    carol.send(chat_message("r", "carol", "one", "c1"));
    const auto echo = carol.wait_for(is_message_with_content("one"));
    ASSERT_TRUE(echo);
    seen = echo->chat_message().sequence();
  }
  // While carol is away, dave talks through node b.
  ChatStreamClient dave(chat_channel("127.0.0.1", b->port("grpc-chat")));
  dave.send(join("r", "dave"));
  ASSERT_TRUE(dave.wait_for(is_joined("r")));
  for (int i = 0; i < 5; ++i) dave.send(chat_message("r", "dave", "missed " + std::to_string(i), "d" + std::to_string(i)));
  ASSERT_EQ(dave.wait_for_count(is_message_in("r"), 5).size(), 5u);

  // Carol comes back through node b.
  ChatStreamClient back(chat_channel("127.0.0.1", b->port("grpc-chat")));
  back.send(join("r", "carol", seen));
  const auto joined = back.wait_for(is_joined("r"));
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->joined().replayed(), 5u);
  EXPECT_FALSE(joined->joined().history_gap());
  const auto replayed = back.wait_for_count(is_message_in("r"), 5);
  EXPECT_EQ(sequences_in(replayed, "r"), (std::vector<std::uint64_t>{seen + 1, seen + 2, seen + 3, seen + 4, seen + 5}));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(back.events_matching(is_message_in("r")).size(), 5u);
}

TEST(ChatNodes, ACutListenConnectionLosesNoDeliveryAndKeepsTheOrder) {
  TempDir dir;
  TestDatabase database;
  auto a = chat_node(dir.path(), database, "node-a");
  auto b = chat_node(dir.path(), database, "node-b");
  ChatStreamClient listener(chat_channel("127.0.0.1", a->port("grpc-chat")));
  ChatStreamClient talker(chat_channel("127.0.0.1", b->port("grpc-chat")));
  listener.send(join("r", "listener"));
  talker.send(join("r", "talker"));
  ASSERT_TRUE(listener.wait_for(is_joined("r")));
  ASSERT_TRUE(talker.wait_for(is_joined("r")));

  constexpr int kMessages = 60;
  for (int i = 0; i < kMessages; ++i) {
    if (i == 20) {
      // Node a stops hearing node b's commits for a while.
      database.query(
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = "
          "'chat-host node-a listen'");
    }
    talker.send(chat_message("r", "talker", "m" + std::to_string(i), "t" + std::to_string(i)));
    if (i % 10 == 0) std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(talker.wait_for_count(is_message_in("r"), kMessages).size(), static_cast<std::size_t>(kMessages));
  const auto heard = listener.wait_for_count(is_message_in("r"), kMessages, 15s);
  EXPECT_EQ(sequences_in(heard, "r"), one_to(kMessages));
  EXPECT_TRUE(a->process().wait_for_line(std::regex("hearing other chat nodes' commits again"))) << a->output();
}

}  // namespace
}  // namespace chathost::test
