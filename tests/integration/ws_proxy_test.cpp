// ws-proxy through real host processes and real WebSocket clients: the core
// path all-in-one (grpc-chat and ws-proxy in one host) and split deployments
// (grpc-chat in one host, one or two proxy hosts talking to it over gRPC),
// the chat service going away and coming back, and the exercise's own
// Node.js client. What a client can get wrong is in ws_proxy_limits_test.cpp,
// how an operator deploys the proxy in ws_proxy_deployment_test.cpp.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/host_process.hpp"
#include "support/proxy_hosts.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"
#include "support/garbage_grpc_server.hpp"
#include "support/host_variables.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <numeric>
#include <set>
#include <thread>

namespace chathost::test {
namespace {

using chat::ChatStream;
using chat::Error;
using chat::Presence;

// ---------------------------------------------------------------------------
// The core path

TEST_F(WsProxyTest, ExerciseFrameGetsItsEchoAndNothingItWouldNotUnderstand) {
  auto host = all_in_one(dir_.path());
  WsClient client(ws_to(*host));
  ASSERT_TRUE(client.wait_available());
  client.send_text(exercise_frame("msg1", "room1", "client1", "Hello"));

  auto echo = client.wait_for(is_message_id("msg1"));
  ASSERT_TRUE(echo) << host->process().output();
  expect_first_message_of_room(echo->chat_message(), "room1", "client1", "Hello");
  // The raw frame uses the proto field names, as the exercise's clients expect.
  const auto texts = client.texts();
  ASSERT_FALSE(texts.empty());
  EXPECT_NE(texts.back().find(R"("room_id":"room1")"), std::string::npos) << texts.back();

  // The exercise's client never joined: chat messages and the service status only.
  client.send_text(exercise_frame("msg2", "room1", "client1", "again"));
  ASSERT_TRUE(client.wait_for(is_message_id("msg2")));
  for (const auto& event : client.events()) {
    EXPECT_TRUE(event.has_chat_message() || event.has_service_status()) << event.DebugString();
  }
}

TEST_F(WsProxyTest, TypingReachesTheRoomsJoinedClientsOnlyAndIsRefusedOutsideIt) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");
  WsClient legacy(ws_to(*host));  // the exercise's client, in the room by sending
  ASSERT_TRUE(legacy.wait_available());
  legacy.send_text(exercise_frame("l1", "r", "legacy", "hello"));
  ASSERT_TRUE(alice->wait_for(is_message_id("l1")));

  // The user is the connection's when left out.
  bob->send_text(R"({"typing":{"room_id":"r"}})");
  const auto seen = alice->wait_for(is_typing("r", "bob", false));
  ASSERT_TRUE(seen) << host->process().output();
  const auto texts = alice->texts();
  EXPECT_NE(std::find(texts.begin(), texts.end(), R"({"typing":{"room_id":"r","user_id":"bob"}})"), texts.end());
  bob->send(typing("r", "bob", true));
  ASSERT_TRUE(alice->wait_for(is_typing("r", "bob", true)));

  // The exercise's client sees nothing new.
  alice->send(chat_message("r", "alice", "after typing", "a1"));
  ASSERT_TRUE(legacy.wait_for(is_message_id("a1")));
  for (const auto& event : legacy.events()) {
    EXPECT_TRUE(event.has_chat_message() || event.has_service_status()) << event.DebugString();
  }

  // Not in the room, or as someone else: refused, and the connection lives on.
  bob->send(typing("elsewhere", "bob"));
  const auto not_member = bob->wait_for(is_error_for(Error::NOT_MEMBER, ""));
  ASSERT_TRUE(not_member);
  EXPECT_EQ(not_member->error().frame(), "typing");
  EXPECT_EQ(not_member->error().room_id(), "elsewhere");
  bob->send(typing("r", "alice"));
  const auto not_allowed = bob->wait_for(is_error_for(Error::NOT_ALLOWED, ""));
  ASSERT_TRUE(not_allowed);
  EXPECT_EQ(not_allowed->error().frame(), "typing");
  bob->send(chat_message("r", "bob", "still here", "b1"));
  EXPECT_TRUE(bob->wait_for(is_ack_for("b1")));
}

TEST_F(WsProxyTest, TheWsPathAndLowerCamelCaseNamesWorkAndAnswersUseProtoNames) {
  auto host = all_in_one(dir_.path());
  WsClient ann(ws_to(*host, "/ws"));
  ASSERT_TRUE(ann.wait_available());
  ann.send_text(R"({"join":{"roomId":"r","userId":"ann"}})");
  auto joined = ann.wait_for(is_joined("r"));
  ASSERT_TRUE(joined) << host->process().output();
  EXPECT_EQ(joined->joined().user_id(), "ann");
  WsClient ben(ws_to(*host, "/ws?user=ben&room=r"));
  ASSERT_TRUE(ben.wait_for(is_joined("r")));

  ann.send_text(R"({"chatMessage":{"id":"c1","roomId":"r","senderId":"ann","content":"camel"}})");
  ASSERT_TRUE(ann.wait_for(is_ack_for("c1")));
  auto seen = ben.wait_for(is_message_id("c1"));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->chat_message().sender_id(), "ann");
  EXPECT_EQ(seen->chat_message().content(), "camel");
  const auto texts = ben.texts();
  const auto raw = std::find_if(texts.begin(), texts.end(),
                                [](const std::string& t) { return t.find(R"("id":"c1")") != std::string::npos; });
  ASSERT_NE(raw, texts.end());
  EXPECT_NE(raw->find(R"("chat_message":{)"), std::string::npos) << *raw;
  EXPECT_NE(raw->find(R"("sender_id":"ann")"), std::string::npos) << *raw;
  EXPECT_EQ(raw->find("senderId"), std::string::npos) << *raw;
}

TEST_F(WsProxyTest, TwoClientsInARoomSeeEachOtherAndAThirdInAnotherRoomDoesNot) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "lobby");
  auto bob = joined_client(*host, "bob", "lobby");
  auto carol = joined_client(*host, "carol", "kitchen");

  // alice hears bob arrive.
  ASSERT_TRUE(alice->wait_for(is_presence("lobby", Presence::JOINED, "bob")));

  alice->send(chat_message("lobby", "alice", "hi bob", "a1"));
  bob->send(chat_message("lobby", "bob", "hi alice", "b1"));
  for (auto* client : {alice.get(), bob.get()}) {
    ASSERT_TRUE(client->wait_for(is_message_with_content("hi bob")));
    ASSERT_TRUE(client->wait_for(is_message_with_content("hi alice")));
  }
  // The sender's ack comes before its echo and names it.
  const auto events = alice->events();
  const auto ack_at = index_of(events, is_ack_for("a1"));
  ASSERT_LT(ack_at, events.size());
  EXPECT_LT(ack_at, index_of(events, is_message_id("a1")));
  EXPECT_EQ(events[ack_at].ack().sender_id(), "alice");
  EXPECT_TRUE(bob->events_matching(is_ack_for("a1")).empty());

  carol->send(chat_message("kitchen", "carol", "anyone?", "c1"));
  ASSERT_TRUE(carol->wait_for(is_message_id("c1")));
  EXPECT_TRUE(carol->events_matching(is_message_in("lobby")).empty());
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(alice->events_matching(is_message_in("kitchen")).empty());
  EXPECT_TRUE(bob->events_matching(is_message_in("kitchen")).empty());

  // Leaving: bob gets nothing more from the lobby, alice sees him go.
  bob->send(leave("lobby", "bob"));
  ASSERT_TRUE(alice->wait_for(is_presence("lobby", Presence::LEFT, "bob")));
  alice->send(chat_message("lobby", "alice", "bye", "a2"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a2")));
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(bob->events_matching(is_message_id("a2")).empty());
}

TEST_F(WsProxyTest, TwoHundredClientsInTenRoomsEachGetExactlyTheirRoomInOrder) {
  constexpr int kRooms = 10;
  constexpr int kPerRoom = 20;
  constexpr int kMessagesEach = 3;
  constexpr std::size_t kRoomMessages = kPerRoom * kMessagesEach;
  auto host = all_in_one(dir_.path());
  auto io = std::make_shared<WsIo>(2);
  std::vector<std::unique_ptr<WsClient>> clients;
  auto room_of = [](int i) { return "room" + std::to_string(i % kRooms); };
  auto user_of = [](int i) { return "user" + std::to_string(i); };
  for (int i = 0; i < kRooms * kPerRoom; ++i) {
    clients.push_back(std::make_unique<WsClient>(ws_to(*host, target(user_of(i), room_of(i))), io));
  }
  for (int i = 0; i < kRooms * kPerRoom; ++i) ASSERT_TRUE(clients[i]->wait_for(is_joined(room_of(i)))) << i;

  for (int m = 0; m < kMessagesEach; ++m) {
    for (int i = 0; i < kRooms * kPerRoom; ++i) {
      clients[i]->send(chat_message(room_of(i), user_of(i), user_of(i) + "#" + std::to_string(m),
                                    user_of(i) + "-" + std::to_string(m)));
    }
  }
  for (int i = 0; i < kRooms * kPerRoom; ++i) {
    auto got = clients[i]->wait_for_count(is_any_message(), kRoomMessages, 30s);
    ASSERT_EQ(got.size(), kRoomMessages) << "client " << i;
  }
  std::this_thread::sleep_for(200ms);  // nothing more may come

  for (int i = 0; i < kRooms * kPerRoom; ++i) {
    const auto got = clients[i]->events_matching(is_any_message());
    ASSERT_EQ(got.size(), kRoomMessages) << "client " << i << " got extra messages";
    std::map<std::string, int> next_from;  // each sender's messages in the order sent
    for (std::size_t k = 0; k < got.size(); ++k) {
      const auto& message = got[k].chat_message();
      ASSERT_EQ(message.room_id(), room_of(i)) << "client " << i;
      ASSERT_EQ(message.sequence(), k + 1) << "client " << i << " out of order";
      EXPECT_EQ(message.content(), message.sender_id() + "#" + std::to_string(next_from[message.sender_id()]++));
    }
    EXPECT_EQ(next_from.size(), static_cast<std::size_t>(kPerRoom));
  }
}

TEST_F(WsProxyTest, SameMessageIdFromTwoConnectionsOfOneUserIsAckedToEachSender) {
  auto host = all_in_one(dir_.path());
  auto tab1 = joined_client(*host, "client1", "room1");
  auto tab2 = joined_client(*host, "client1", "room1");
  for (int round = 0; round < 5; ++round) {
    const std::string id = "msg" + std::to_string(round);
    tab1->send(chat_message("room1", "client1", "from tab1 #" + std::to_string(round), id));
    tab2->send(chat_message("room1", "client1", "from tab2 #" + std::to_string(round), id));
  }
  for (auto [tab, name] : {std::pair{tab1.get(), "tab1"}, std::pair{tab2.get(), "tab2"}}) {
    ASSERT_EQ(tab->wait_for_count(is_any_message(), 10).size(), 10U) << name;
    for (int round = 0; round < 5; ++round) {
      const std::string id = "msg" + std::to_string(round);
      // Exactly one ack per message sent, under the client's own id, naming
      // the message with this tab's content.
      const auto acks = tab->events_matching(is_ack_for(id));
      ASSERT_EQ(acks.size(), 1U) << name << " " << id;
      const auto own =
          tab->events_matching(is_message_with_content(std::string("from ") + name + " #" + std::to_string(round)));
      ASSERT_EQ(own.size(), 1U);
      EXPECT_EQ(own[0].chat_message().sequence(), acks[0].ack().sequence()) << name << " " << id;
      EXPECT_EQ(own[0].chat_message().id(), id) << name << ": its echo carries its own id";
    }
  }
}

// ---------------------------------------------------------------------------
// Split deployments

TEST_F(WsProxyTest, ClientsOfTwoProxyHostsChatThroughOneChatServiceHost) {
  const auto chat_port = free_tcp_port();
  const std::string tables = chat_table(chat_port) + "\n" + proxy_table(chat_port);
  auto service = make_host(dir_.path(), "service", tables, "grpc-chat");
  auto proxy1 = make_host(dir_.path(), "proxy1", tables, "ws-proxy");
  // Proxy 2 finds the chat service through the exercise's .env variables,
  // over a config file that points elsewhere (.env comes first).
  write_file(dir_.path() / "proxy2" / ".env", "GRPC_HOST=127.0.0.1\nGRPC_PORT=" + std::to_string(chat_port) + "\n");
  auto proxy2 = make_host(dir_.path(), "proxy2", proxy_table(free_tcp_port(), "chat_host = \"localhost\"\n"), "ws-proxy");

  auto alice = joined_client(*proxy1, "alice", "lobby");
  auto bob = joined_client(*proxy2, "bob", "lobby");
  WsClient legacy(ws_to(*proxy2));  // the exercise's client, on proxy 2
  ASSERT_TRUE(legacy.wait_available());

  alice->send(chat_message("lobby", "alice", "hello from proxy 1", "a1"));
  ASSERT_TRUE(bob->wait_for(is_message_with_content("hello from proxy 1")));
  bob->send(chat_message("lobby", "bob", "hello from proxy 2", "b1"));
  ASSERT_TRUE(alice->wait_for(is_message_with_content("hello from proxy 2")));
  legacy.send_text(exercise_frame("msg1", "lobby", "client1", "Hello"));
  ASSERT_TRUE(legacy.wait_for(is_message_id("msg1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("msg1")));
  ASSERT_TRUE(bob->wait_for(is_message_id("msg1")));

  const auto at_alice = alice->events_matching(is_any_message());
  const auto at_bob = bob->events_matching(is_any_message());
  ASSERT_EQ(at_alice.size(), 3U);
  ASSERT_EQ(at_bob.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(at_alice[i].chat_message().sequence(), i + 1);
    EXPECT_EQ(at_alice[i].chat_message().server_id(), at_bob[i].chat_message().server_id());
  }
  // The exercise's client, one connection on each proxy.
  EXPECT_TRUE(run_exercise_client({proxy1->port("ws-proxy"), proxy2->port("ws-proxy")}));

  // Stopping a proxy says goodbye to its clients (1001, going away).
  EXPECT_TRUE(proxy1->stop_cleanly());
  auto gone = alice->wait_closed();
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->code, 1001) << gone->error;
  EXPECT_TRUE(proxy2->stop_cleanly());
  EXPECT_TRUE(service->stop_cleanly());
}

TEST_F(WsProxyTest, ChatServiceDownAtStartIsReportedAndUsedOnceItComes) {
  const auto chat_port = free_tcp_port();
  const std::string tables =
      chat_table(chat_port, dir_.path() / "service" / "chat.db") + "\n" + proxy_table(chat_port);
  auto proxy = make_host(dir_.path(), "proxy", tables, "ws-proxy");
  EXPECT_TRUE(proxy->process().wait_for_line(std::regex("chat service at 127.0.0.1:\\d+ not reachable yet")));

  WsClient client(ws_to(*proxy, "/?user=early&room=r"));
  ASSERT_TRUE(client.wait_for(is_service_status(false)));
  client.send(chat_message("r", "early", "too soon", "m1"));
  auto refused = client.wait_for(is_error_for(Error::UNAVAILABLE, "m1"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().frame(), "chat_message");
  EXPECT_EQ(refused->error().room_id(), "r");
  EXPECT_NE(refused->error().message().find("not sent"), std::string::npos) << refused->error().message();

  auto service = make_host(dir_.path(), "service", tables, "grpc-chat");
  ASSERT_TRUE(client.wait_available(15s)) << proxy->process().output();
  // The join asked for in the URL was made once the service came.
  ASSERT_TRUE(client.wait_for(is_joined("r")));
  client.send(chat_message("r", "early", "now", "m2"));
  ASSERT_TRUE(client.wait_for(is_message_id("m2")));
  ASSERT_TRUE(client.wait_for(is_ack_for("m2")));
}

TEST_F(WsProxyTest, AChatServiceThatAnswersGarbageIsReportedAndNeverTrusted) {
  chathost::test::GarbageGrpcServer garbage;
  auto proxy = make_host(dir_.path(), "proxy", proxy_table(garbage.port()), "ws-proxy");
  // Each stream asks the node whether it serves (gRPC health): the answer
  // does not parse, which is named in the log, and the stream is never
  // counted as up.
  EXPECT_TRUE(proxy->process().wait_for_line(
      std::regex("stream \\d+: chat node \\S+ does not serve \\(its health answer does not parse\\); asking again")));
  // The stream's own first answer does not parse either: it is ended, named
  // in the log with the reason, and tried again (after 100-300 ms).
  EXPECT_TRUE(proxy->process().wait_for_line(
      std::regex("stream \\d+ to the chat service at \\S+ ended with 13 \\(the chat service sent a frame that is not a "
                 "ChatStream\\); reconnecting")));

  WsClient client(ws_to(*proxy, "/?user=alice&room=r"));
  ASSERT_TRUE(client.wait_for(is_service_status(false)));
  client.send(chat_message("r", "alice", "into the void", "m1"));
  ASSERT_TRUE(client.wait_for(is_error_for(Error::UNAVAILABLE, "m1")));
  EXPECT_GE(garbage.answered(), 2) << "the proxy kept trying";
  EXPECT_TRUE(proxy->process().running());
}

TEST_F(WsProxyTest, ChatServiceCrashIsReportedAndRecoveryDeliversWhatAnotherProxySentMeanwhile) {
  const auto chat_port = free_tcp_port();
  const auto store = dir_.path() / "service" / "data" / "chat.db";
  // Proxy 1 waits 5 s before reconnecting; proxy 2 comes back at once.
  const std::string slow_tables = chat_table(chat_port, store) + "\n" +
                                  proxy_table(chat_port, "reconnect_min_ms = 5000\nreconnect_max_ms = 5000\n");
  const std::string quick_tables = chat_table(chat_port, store) + "\n" + proxy_table(chat_port);
  auto service = make_host(dir_.path(), "service", quick_tables, "grpc-chat");
  auto proxy1 = make_host(dir_.path(), "proxy1", slow_tables, "ws-proxy");
  auto proxy2 = make_host(dir_.path(), "proxy2", quick_tables, "ws-proxy");

  auto alice = joined_client(*proxy1, "alice", "r");
  auto dave = joined_client(*proxy1, "dave", "r");  // a second user of proxy 1 in the room
  auto bob = joined_client(*proxy2, "bob", "r");
  bob->send(chat_message("r", "bob", "before", "b1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("b1")));
  ASSERT_TRUE(dave->wait_for(is_message_id("b1")));

  service->kill();
  for (auto* client : {alice.get(), dave.get(), bob.get()}) {
    auto down = client->wait_for(is_service_status(false));
    ASSERT_TRUE(down);
    EXPECT_FALSE(down->service_status().message().empty());
  }
  // The status goes out when the first stream breaks; send once proxy 1 knows
  // both are gone (a message sent just before is "not confirmed" instead).
  for (const std::string stream : {"0", "1"}) {
    const std::regex ended("stream " + stream + " to the chat service at \\S+ ended");
    ASSERT_TRUE(proxy1->process().wait_for_line(ended)) << proxy1->process().output();
  }
  alice->send(chat_message("r", "alice", "into the void", "a1"));
  auto refused = alice->wait_for(is_error_for(Error::UNAVAILABLE, "a1"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().frame(), "chat_message");
  EXPECT_NE(refused->error().message().find("not sent"), std::string::npos) << refused->error().message();
  const auto alice_status_count = alice->events_matching(is_service_status(true)).size();

  service->start();
  // Proxy 2 is back first; bob sends while proxy 1 is still waiting.
  const auto bob_seen = bob->size();
  ASSERT_TRUE(bob->wait_for(is_service_status(true), 10s, bob_seen)) << proxy2->process().output();
  bob->send(chat_message("r", "bob", "while you were away", "b2"));
  auto echo = bob->wait_for(is_message_id("b2"));
  ASSERT_TRUE(echo) << ::testing::PrintToString(bob->texts()) << proxy2->process().output() << service->process().output();
  EXPECT_EQ(echo->chat_message().sequence(), 2U);
  EXPECT_EQ(alice->events_matching(is_service_status(true)).size(), alice_status_count)
      << "proxy 1 reconnected too early for this test to mean anything";

  // Proxy 1 comes back: first the status, then the message it missed, once.
  for (auto* client : {alice.get(), dave.get()}) {
    auto missed = client->wait_for(is_message_id("b2"), 15s);
    ASSERT_TRUE(missed) << proxy1->process().output();
    EXPECT_EQ(missed->chat_message().sequence(), 2U);
    const auto events = client->events();
    const auto down_at = index_of(events, is_service_status(false));
    const auto back_at = index_of(events, is_service_status(true), down_at);
    ASSERT_LT(back_at, events.size()) << "no status event saying the service is back";
    EXPECT_LT(back_at, index_of(events, is_message_id("b2")));
  }
  // Live again, and nothing was delivered twice.
  bob->send(chat_message("r", "bob", "after", "b3"));
  for (auto* client : {alice.get(), dave.get()}) {
    ASSERT_TRUE(client->wait_for(is_message_id("b3")));
    std::vector<std::uint64_t> sequences;
    for (const auto& e : client->events_matching(is_any_message())) sequences.push_back(e.chat_message().sequence());
    EXPECT_EQ(sequences, (std::vector<std::uint64_t>{1, 2, 3}));
  }
  alice->send(chat_message("r", "alice", "I'm back", "a2"));
  ASSERT_TRUE(bob->wait_for(is_message_id("a2")));
}

TEST_F(WsProxyTest, ARecoveryGapTooLongToReplayTellsClientsToReloadHistory) {
  const auto chat_port = free_tcp_port();
  const auto store = dir_.path() / "service" / "data" / "chat.db";
  const std::string tables = chat_table(chat_port, store) + "max_replay = 2\n\n" +
                             proxy_table(chat_port, "reconnect_min_ms = 5000\nreconnect_max_ms = 5000\n");
  auto service = make_host(dir_.path(), "service", tables, "grpc-chat");
  auto proxy = make_host(dir_.path(), "proxy", tables, "ws-proxy");
  auto alice = joined_client(*proxy, "alice", "r");
  alice->send(chat_message("r", "alice", "first", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));

  service->stop();
  ASSERT_TRUE(alice->wait_for(is_service_status(false)));
  service->start();
  // While the proxy waits to reconnect, more is said than a join may replay.
  ChatStreamClient direct(chat_channel("127.0.0.1", chat_port), test_service_token());
  for (int i = 0; i < 3; ++i) direct.send(chat_message("r", "bob", "missed", "b" + std::to_string(i)));
  ASSERT_TRUE(direct.wait_for(is_message_id("b2")));

  const auto seen = alice->size();
  auto gap = alice->wait_for([](const ChatStream& e) { return e.has_joined() && e.joined().history_gap(); }, 15s, seen);
  ASSERT_TRUE(gap) << proxy->process().output();
  EXPECT_EQ(gap->joined().room_id(), "r");
  EXPECT_EQ(gap->joined().last_sequence(), 4U);
  EXPECT_TRUE(alice->events_matching(is_message_id("b0")).empty()) << "a gap is not replayed";
  // Live from there on.
  direct.send(chat_message("r", "bob", "live again", "b3"));
  auto live = alice->wait_for(is_message_id("b3"));
  ASSERT_TRUE(live);
  EXPECT_EQ(live->chat_message().sequence(), 5U);
}

// ---------------------------------------------------------------------------
// The exercise's Node.js client, with the `ws` package from npm

TEST_F(WsProxyTest, NodeWsClientSendingTheExerciseFramesWorks) {
  auto host = all_in_one(dir_.path());
  EXPECT_TRUE(run_exercise_client({host->port("ws-proxy")}));
}

}  // namespace
}  // namespace chathost::test
