// Several grpc-chat nodes sharing rooms through one PostgreSQL: members on
// different nodes see one gap-free order, a client that comes back through
// another node gets exactly what it missed, and a lost wake-up (the LISTEN
// connection cut) loses no delivery, and history read from a node that did
// not commit the message is never stale.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/history_hosts.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_postgres.hpp"
#include "support/ws_client.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chathost::test {
namespace {

using namespace std::chrono_literals;

// A grpc-chat node on the test's database; it wants the deployment's
// service token of its callers, as a node on the network does.
std::unique_ptr<TestHost> chat_node(const std::filesystem::path& dir, const TestDatabase& database,
                                    const std::string& node, const std::string& extra = "") {
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = node,
                           .plugins = {"grpc-chat"},
                           .tables = grpc_chat_table(0, "store = \"postgres\"\nnode_id = \"" + node + "\"\n" +
                                                               service_token_key() + extra),
                           .env = {{"DATABASE_URL", database.url()}}});
}

// Two grpc-chat nodes sharing a schema of the test server, and the folder of
// their hosts; stopped, then the schema dropped, then the folder removed.
struct TwoNodes {
  TempDir dir;
  TestDatabase database;
  std::unique_ptr<TestHost> a;
  std::unique_ptr<TestHost> b;
};

std::unique_ptr<TwoNodes> two_nodes(const std::string& extra = "") {
  auto nodes = std::make_unique<TwoNodes>();
  nodes->a = chat_node(nodes->dir.path(), nodes->database, "node-a", extra);
  nodes->b = chat_node(nodes->dir.path(), nodes->database, "node-b", extra);
  return nodes;
}

// A bridge's stream (with the service token) to `node`'s grpc-chat,
// joined to `room` as `user`.
std::unique_ptr<ChatStreamClient> joined_member(const TestHost& node, const std::string& room, const std::string& user) {
  auto client = std::make_unique<ChatStreamClient>(chat_channel("127.0.0.1", node.port("grpc-chat")), test_service_token());
  client->send(join(room, user));
  if (!client->wait_for(is_joined(room))) throw std::runtime_error(user + " got no joined for " + room);
  return client;
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
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  // Browsers on proxies pinned to each node, and bridges' streams direct.
  TestHost proxy_a(dir.path(), {.name = "proxy-a", .plugins = {"ws-proxy"}, .tables = ws_proxy_table(a->port("grpc-chat"), service_token_key())});
  TestHost proxy_b(dir.path(), {.name = "proxy-b", .plugins = {"ws-proxy"}, .tables = ws_proxy_table(b->port("grpc-chat"), service_token_key())});
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

// history-http's copy of recent messages watches node a; messages are
// committed through node b, whose wake-up of node a may still be on the way
// when the ack arrives (or lost, with the listen connection cut): the
// answer holds them all the same.
TEST(ChatNodes, HistoryReadAtOnceAfterAnAckThroughTheOtherNodeIsNeverStale) {
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  write_web_fixtures(dir.path());
  auto http = http_host(dir.path(), {.chat_port = a->port("grpc-chat"), .extra_config = service_token_key()});
  HttpConnection history(http->port("history-http"));
  auto dave = joined_member(*b, "r", "dave");
  constexpr int kMessages = 100;
  for (int i = 1; i <= kMessages; ++i) {
    if (i == kMessages / 2) {
      // Node a stops hearing node b's commits for a while (about a second):
      // what it answers must not depend on hearing them.
      database.query(
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = "
          "'chat-host node-a listen'");
    }
    ASSERT_FALSE(send_then_read_at_once(*dave, "r", "dave", "d" + std::to_string(i), history, "/history?room=r&limit=5")
                     .empty());
  }
  EXPECT_GE(pages_from_copy(http->port("history-http")), kMessages - 2);
}

TEST(ChatNodes, AClientBackThroughTheOtherNodeWithSinceGetsExactlyWhatItMissed) {
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  std::uint64_t seen = 0;
  {
    auto carol = joined_member(*a, "r", "carol");
    carol->send(chat_message("r", "carol", "one", "c1"));
    const auto echo = carol->wait_for(is_message_with_content("one"));
    ASSERT_TRUE(echo);
    seen = echo->chat_message().sequence();
  }
  // While carol is away, dave talks through node b.
  auto dave = joined_member(*b, "r", "dave");
  for (int i = 0; i < 5; ++i) dave->send(chat_message("r", "dave", "missed " + std::to_string(i), "d" + std::to_string(i)));
  ASSERT_EQ(dave->wait_for_count(is_message_in("r"), 5).size(), 5u);

  // Carol comes back through node b.
  ChatStreamClient back(chat_channel("127.0.0.1", b->port("grpc-chat")), test_service_token());
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
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  ChatStreamClient listener(chat_channel("127.0.0.1", a->port("grpc-chat")), test_service_token());
  ChatStreamClient talker(chat_channel("127.0.0.1", b->port("grpc-chat")), test_service_token());
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

// A proxy (ws-proxy and history-http) that knows both nodes, with one
// upstream stream starting on each.
std::unique_ptr<TestHost> proxy_of_both(const std::filesystem::path& dir, TestHost& a, TestHost& b) {
  const std::string both = service_token_key() + "chat_host = \"127.0.0.1:" + std::to_string(a.port("grpc-chat")) +
                           ", 127.0.0.1:" + std::to_string(b.port("grpc-chat")) + "\"\n";
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = "proxy",
                           .plugins = {"ws-proxy", "history-http"},
                           .tables = ws_proxy_table(a.port("grpc-chat"), both + "upstream_streams = 2\n") +
                                     history_http_table(a.port("grpc-chat"), both)});
}

// Expects `proxy` to log a line with `before`, the address of `node`'s
// grpc-chat, then `after` (regular expressions, as the line's parts).
void expect_proxy_line_about(TestHost& proxy, TestHost& node, const std::string& before, const std::string& after) {
  EXPECT_TRUE(proxy.process().wait_for_line(
      std::regex(before + "127\\.0\\.0\\.1:" + std::to_string(node.port("grpc-chat")) + after)))
      << proxy.output();
}

// Eight clients in four rooms talk through `proxy`; `fail` strikes a third of
// the way through. Then every message is acknowledged (the unconfirmed ones
// sent again with resend, as a client does), stored exactly once, and
// delivered to every member once, in sequence order; history still answers.
void talk_through_a_failure(TestHost& proxy, TestDatabase& database, const std::function<void()>& fail) {
  constexpr int kClients = 8;
  constexpr int kEach = 30;
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int c = 0; c < kClients; ++c) {
    const std::string user = "u" + std::to_string(c);
    clients.push_back(std::make_unique<WsClient>(WsOptions{.port = proxy.port("ws-proxy"), .target = "/?user=" + user}));
    clients.back()->send(join("room" + std::to_string(c % 4), user));
    ASSERT_TRUE(clients.back()->wait_for(is_joined("room" + std::to_string(c % 4)))) << proxy.output();
  }
  const auto id_of = [](int c, int i) { return "c" + std::to_string(c) + "-" + std::to_string(i); };
  const auto message_of = [&](int c, int i, bool resend) {
    auto frame = chat_message("room" + std::to_string(c % 4), "u" + std::to_string(c), id_of(c, i), id_of(c, i));
    frame.mutable_chat_message()->set_resend(resend);
    return frame;
  };
  for (int i = 0; i < kEach; ++i) {
    if (i == kEach / 3) fail();
    for (int c = 0; c < kClients; ++c) clients[c]->send(message_of(c, i, false));
    std::this_thread::sleep_for(20ms);
  }
  // What was refused or never confirmed is sent again, as a client does once
  // the service is back: with resend, so a message stored before is not
  // stored twice (sending it again more than once does no harm either).
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (bool all_acked = false; !all_acked && std::chrono::steady_clock::now() < deadline;) {
    all_acked = true;
    for (int c = 0; c < kClients; ++c) {
      if (!clients[c]->wait_available(10s)) continue;
      for (int i = 0; i < kEach; ++i) {
        if (clients[c]->wait_for(is_ack_for(id_of(c, i)), 1ms)) continue;
        all_acked = false;
        clients[c]->send(message_of(c, i, true));
      }
    }
    if (!all_acked) std::this_thread::sleep_for(500ms);
  }
  for (int c = 0; c < kClients; ++c) {
    for (int i = 0; i < kEach; ++i) {
      ASSERT_TRUE(clients[c]->wait_for(is_ack_for(id_of(c, i)), 1ms))
          << id_of(c, i) << " never acknowledged\n" << proxy.output();
    }
  }
  // Clients were told the service was briefly unavailable, and then that it was back.
  EXPECT_FALSE(clients[0]->events_matching(is_service_status(false)).empty());

  // Every message stored exactly once.
  EXPECT_EQ(database.query("SELECT count(*) FROM messages"), std::to_string(kClients * kEach));
  EXPECT_EQ(database.query("SELECT count(DISTINCT client_id) FROM messages"), std::to_string(kClients * kEach));
  // Each client, on the proxy that stayed, got its room's messages once
  // each, in sequence order, up to the last one stored.
  for (int c = 0; c < kClients; ++c) {
    const std::string room = "room" + std::to_string(c % 4);
    const auto last = std::stoull(database.query("SELECT max(sequence) FROM messages WHERE room_id = '" + room + "'"));
    ASSERT_TRUE(clients[c]->wait_for(
        [&](const chat::ChatStream& e) { return e.has_chat_message() && e.chat_message().sequence() == last; }, 15s));
    const auto got = sequences_in(clients[c]->events(), room);
    EXPECT_EQ(got, one_to(last)) << "client " << c;
  }
  // History carries on through the survivor too.
  EXPECT_EQ(status_line(RawPeer(proxy.port("history-http")).request("GET /history?room=room0 HTTP/1.1\r\nHost: x\r\n\r\n")),
            "HTTP/1.1 200 OK")
      << proxy.output();
}

TEST(ChatNodes, AProxyThatKnowsBothNodesCarriesOnThroughTheSurvivorWhenOneIsKilled) {
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  auto proxy = proxy_of_both(dir.path(), *a, *b);

  talk_through_a_failure(*proxy, database, [&] { a->kill(); });

  // The stream that started on node a moved to node b.
  expect_proxy_line_about(*proxy, *a, "stream 0 to the chat service at ", " ended");
}

// A node that hangs (stopped, its connections open) breaks no stream by
// itself: the proxy sees it stop answering gRPC health and moves off it.
TEST(ChatNodes, AProxyMovesItsStreamsOffANodeThatHangs) {
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  auto proxy = proxy_of_both(dir.path(), *a, *b);

  std::optional<Frozen> frozen;
  talk_through_a_failure(*proxy, database, [&] { frozen.emplace(*a); });

  expect_proxy_line_about(*proxy, *a, "stream 0 leaves chat node ", ", which does not serve");
}

TEST(ChatNodes, TypingOnOneNodeReachesTheRoomsMembersOnTheOther) {
  auto nodes = two_nodes();
  auto& [dir, database, a, b] = *nodes;
  auto alice = joined_member(*a, "r", "alice");
  ChatStreamClient bob(chat_channel("127.0.0.1", b->port("grpc-chat")), test_service_token());
  bob.send(join("r", "bob"));
  ASSERT_TRUE(alice->wait_for(is_presence("r", chat::Presence::JOINED, "bob"))) << a->output();

  bob.send(typing("r", "bob"));
  ASSERT_TRUE(alice->wait_for(is_typing("r", "bob", false))) << a->output() << b->output();
  bob.send(typing("r", "bob", true));
  ASSERT_TRUE(alice->wait_for(is_typing("r", "bob", true)));
  // Ephemeral across nodes too: nothing of it in the shared store.
  EXPECT_EQ(database.query("SELECT count(*) FROM messages"), "0");
}

TEST(ChatNodes, MembersSeeJoinsAndLeavesOnEveryNodeAndADeadNodesUsersLeaveWithinItsLease) {
  auto nodes = two_nodes("presence_lease_seconds = 3\n");
  auto& [dir, database, a, b] = *nodes;
  auto alice = joined_member(*a, "r", "alice");

  // bob joins through node b: alice, on node a, hears it; bob learns of
  // alice from his snapshot, or, when node a's word of her join reaches b
  // after his (a join never waits for the database), from the JOINED that
  // follows it.
  ChatStreamClient bob(chat_channel("127.0.0.1", b->port("grpc-chat")), test_service_token());
  bob.send(join("r", "bob"));
  const auto joined = alice->wait_for(is_presence("r", chat::Presence::JOINED, "bob"));
  ASSERT_TRUE(joined) << a->output();
  EXPECT_EQ(joined->presence().online_count(), 2u) << a->output() << b->output();
  const auto snapshot = bob.wait_for(is_presence("r", chat::Presence::SNAPSHOT));
  ASSERT_TRUE(snapshot);
  const std::set<std::string> in_snapshot(snapshot->presence().online().begin(), snapshot->presence().online().end());
  if (in_snapshot.contains("alice")) {
    EXPECT_EQ(snapshot->presence().online_count(), 2u);
    EXPECT_EQ(in_snapshot, (std::set<std::string>{"alice", "bob"}));
  } else {
    EXPECT_EQ(in_snapshot, (std::set<std::string>{"bob"}));
    const auto alice_joined = bob.wait_for(is_presence("r", chat::Presence::JOINED, "alice"));
    ASSERT_TRUE(alice_joined) << b->output();
    EXPECT_EQ(alice_joined->presence().online_count(), 2u);
  }

  // A user in the room through both nodes leaves one: still there.
  const auto before_carol = alice->events().size();
  alice->send(join("r", "carol"));
  ASSERT_TRUE(alice->wait_for(is_joined("r"), 10s, before_carol));  // in through node a first
  bob.send(join("r", "carol"));
  ASSERT_TRUE(bob.wait_for(is_presence("r", chat::Presence::JOINED, "carol")));
  bob.send(leave("r", "carol"));
  bob.send(leave("r", "bob"));
  ASSERT_TRUE(alice->wait_for(is_presence("r", chat::Presence::LEFT, "bob")));
  EXPECT_TRUE(alice->events_matching(is_presence("r", chat::Presence::LEFT, "carol")).empty());

  // Node b dies with dave in the room: alice hears dave leave once node b's
  // lease (3 s) runs out.
  ChatStreamClient dave(chat_channel("127.0.0.1", b->port("grpc-chat")), test_service_token());
  dave.send(join("r", "dave"));
  ASSERT_TRUE(alice->wait_for(is_presence("r", chat::Presence::JOINED, "dave")));
  b->kill();
  const auto left = alice->wait_for(is_presence("r", chat::Presence::LEFT, "dave"), 15s);
  ASSERT_TRUE(left) << a->output();
  EXPECT_EQ(left->presence().online_count(), 2u);  // alice and carol
}

// Polls until `condition` holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

TEST(ChatNodes, ADatabaseKilledAndRestartedMakesTheNodeNotServingUntilItIsBackAndLosesNothingAcknowledged) {
  TempDir dir;
  auto server = PostgresServer::start_private();
  TestDatabase database(*server);
  auto node = chat_node(dir.path(), database, "node-a");
  TestHost web(dir.path(), {.name = "web",
                            .plugins = {"history-http"},
                            .tables = history_http_table(node->port("grpc-chat"), service_token_key())});
  const auto channel = chat_channel("127.0.0.1", node->port("grpc-chat"));
  const auto healthz = [&] {
    return status_line(RawPeer(web.port("history-http")).request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  };
  ChatStreamClient alice(channel, test_service_token());
  alice.send(join("r", "alice"));
  ASSERT_TRUE(alice.wait_for(is_joined("r")));
  std::set<std::string> acked;
  const auto send = [&](const std::string& id) { alice.send(chat_message("r", "alice", id, id)); };
  for (int i = 0; i < 10; ++i) send("before" + std::to_string(i));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(alice.wait_for(is_ack_for("before" + std::to_string(i))));
    acked.insert("before" + std::to_string(i));
  }
  EXPECT_EQ(chat_service_serving(channel), true);

  server->kill();
  // Sends are refused as UNAVAILABLE (send it again), and the node says it
  // is not serving, through gRPC health and history-http's /healthz.
  send("during");
  const auto refused = alice.wait_for(
      [](const chat::ChatStream& e) { return e.has_error() && e.error().id() == "during"; }, 15s);
  ASSERT_TRUE(refused) << node->output();
  EXPECT_EQ(refused->error().code(), chat::Error::UNAVAILABLE) << refused->error().message();
  EXPECT_TRUE(eventually([&] { return chat_service_serving(channel) == false; }, 10s)) << node->output();
  EXPECT_EQ(healthz(), "HTTP/1.1 503 Service Unavailable");

  // Back by itself once the database is.
  server->start();
  EXPECT_TRUE(eventually([&] { return chat_service_serving(channel) == true; }, 15s)) << node->output();
  EXPECT_EQ(healthz(), "HTTP/1.1 200 OK");
  send("during");  // sent again, as the refusal asked
  for (int i = 0; i < 10; ++i) send("after" + std::to_string(i));
  ASSERT_TRUE(alice.wait_for(is_ack_for("during")));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(alice.wait_for(is_ack_for("after" + std::to_string(i))));

  // Everything acknowledged is stored, once; the refused try stored nothing.
  EXPECT_EQ(database.query("SELECT count(*) FROM messages"), "21");
  EXPECT_EQ(database.query("SELECT count(DISTINCT client_id) FROM messages"), "21");
  EXPECT_EQ(database.query("SELECT max(sequence) FROM messages"), "21");
  EXPECT_TRUE(node->process().wait_for_line(std::regex("serving again: the store answers"))) << node->output();
}

TEST(ChatNodes, APrimaryKilledAndItsSynchronousStandbyPromotedLosesNoAcknowledgedMessage) {
  TempDir dir;
  auto primary = PostgresServer::start_private();
  auto standby = primary->start_standby(primary->dir().string() + "-standby");
  TestDatabase database(*primary);
  // Both servers in the URL: libpq takes the first that accepts writes.
  const std::string url = "postgresql://chat:" + primary->password() + "@127.0.0.1:" +
                          std::to_string(primary->port()) + ",127.0.0.1:" + std::to_string(standby->port()) +
                          "/chat?target_session_attrs=read-write&options=-csearch_path%3D" + database.schema();
  auto node = std::make_unique<TestHost>(
      dir.path(), TestHostOptions{.name = "node",
                                  .plugins = {"grpc-chat"},
                                  .tables = grpc_chat_table(0, "store = \"postgres\"\n" + service_token_key()),
                                  .env = {{"DATABASE_URL", url}}});
  auto alice = joined_member(*node, "r", "alice");
  std::vector<std::string> acked;
  int next = 0;
  // Sends `count` messages, each until it is acknowledged: a refused one
  // (the database failing over) is sent again with resend, so one whose
  // commit was lost with the connection is found, not stored twice.
  const auto send_acked = [&](int count) {
    for (int k = 0; k < count; ++k) {
      const std::string id = "m" + std::to_string(next++);
      for (bool resend = false;; resend = true) {
        auto frame = chat_message("r", "alice", id, id);
        frame.mutable_chat_message()->set_resend(resend);
        const auto from = alice->events().size();  // the answer to this try, not an earlier one
        alice->send(frame);
        const auto answer = alice->wait_for(
            [&](const chat::ChatStream& e) {
              return (e.has_ack() && e.ack().id() == id) || (e.has_error() && e.error().id() == id);
            },
            15s, from);
        if (answer && answer->has_ack()) break;
        std::this_thread::sleep_for(200ms);
      }
      acked.push_back(id);
    }
  };
  send_acked(20);

  // The primary dies; an operator (or Patroni) promotes the standby.
  primary->kill();
  standby->promote();
  send_acked(20);

  // Everything acknowledged, before and after, is on the new primary, once,
  // in one gap-free order.
  const std::string on_standby = "postgresql://chat:" + standby->password() + "@127.0.0.1:" +
                                 std::to_string(standby->port()) + "/chat?options=-csearch_path%3D" + database.schema();
  EXPECT_EQ(postgres_query(on_standby, "SELECT count(*) FROM messages"), std::to_string(acked.size()));
  for (const auto& id : acked) {
    EXPECT_EQ(postgres_query(on_standby, "SELECT count(*) FROM messages WHERE client_id = '" + id + "'"), "1") << id;
  }
  EXPECT_EQ(postgres_query(on_standby, "SELECT max(sequence) FROM messages"), std::to_string(acked.size()));
}

}  // namespace
}  // namespace chathost::test
