// ws-proxy through real host processes and real WebSocket clients: all-in-one
// (grpc-chat and ws-proxy in one host) and split deployments (grpc-chat in
// one host, one or two proxy hosts talking to it over gRPC).
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/garbage_grpc_server.hpp"
#include "support/host_process.hpp"
#include "support/host_variables.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_tls.hpp"
#include "support/ws_client.hpp"

#include "auth/jwt.hpp"
#include "frames.hpp"
#include "local_room.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gtest/gtest.h>

#include <poll.h>

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

constexpr const char* kAllowedOrigin = "https://chat.example.org";

// [grpc-chat] on 127.0.0.1:port; SQLite at `store_path`, or memory when empty.
std::string grpc_chat_table(std::uint16_t port, const std::filesystem::path& store_path = {}) {
  std::string table = "[grpc-chat]\nhost = \"127.0.0.1\"\nport = " + std::to_string(port) + "\n" + service_token_key();
  if (store_path.empty()) return table + "store = \"memory\"\n";
  return table + "store = \"sqlite\"\nsync = \"normal\"\nstore_path = \"" + store_path.string() + "\"\n";
}

// Whether a TOML table's text sets `key` (at the start of a line).
bool sets_key(const std::string& table, const std::string& key) {
  return std::regex_search(table, std::regex("(^|\\n)" + key + " *="));
}

// [ws-proxy] on 127.0.0.1, any free port, 2 threads, quick reconnects,
// talking to grpc-chat at chat_port; `extra` adds keys or replaces these
// (TOML refuses a key set twice, so a key of `extra` is not set here).
std::string ws_proxy_table(std::uint16_t chat_port, const std::string& extra = "") {
  const std::vector<std::pair<std::string, std::string>> defaults{
      {"host", "\"127.0.0.1\""},
      {"port", "0"},
      {"threads", "2"},
      {"chat_port", std::to_string(chat_port)},
      {"allowed_origins", std::string("[\"") + kAllowedOrigin + "\"]"},
      {"reconnect_min_ms", "100"},
      {"reconnect_max_ms", "300"}};
  std::string table = "[ws-proxy]\n" + service_token_key();
  for (const auto& [key, value] : defaults) {
    if (!sets_key(extra, key)) table += key + " = " + value + "\n";
  }
  return table + extra;
}

// One chat-host process running `plugins` (comma-separated, given as the
// --plugins flag over a config that lists grpc-chat and ws-proxy) from a
// config of `tables`; `env` is set for it (the exercise's GRPC_HOST, say).
std::unique_ptr<TestHost> make_host(const std::filesystem::path& dir, const std::string& name,
                                    const std::string& tables, const std::string& plugins,
                                    std::map<std::string, std::string> env = {}) {
  return std::make_unique<TestHost>(dir, TestHostOptions{.name = name,
                                                         .plugins = {"grpc-chat", "ws-proxy"},
                                                         .tables = tables,
                                                         .args = {"--plugins", plugins},
                                                         .env = std::move(env)});
}

// grpc-chat and ws-proxy in one host: the developer's laptop.
std::unique_ptr<TestHost> all_in_one(const std::filesystem::path& dir, const std::string& proxy_extra = "",
                                     std::map<std::string, std::string> env = {},
                                     const std::string& name = "all-in-one") {
  const auto chat_port = free_tcp_port();
  return make_host(dir, name, grpc_chat_table(chat_port) + "\n" + ws_proxy_table(chat_port, proxy_extra),
                   "grpc-chat,ws-proxy", std::move(env));
}

std::string target(const std::string& user, const std::string& room) { return "/?user=" + user + "&room=" + room; }

// A client that has joined `room` as `user` through the query string.
std::unique_ptr<WsClient> joined_client(const TestHost& host, const std::string& user, const std::string& room,
                                        std::shared_ptr<WsIo> io = nullptr) {
  auto client = std::make_unique<WsClient>(ws_to(host, target(user, room)), std::move(io));
  if (!client->wait_for(is_joined(room))) throw std::runtime_error(user + " got no joined for " + room);
  return client;
}

EventPredicate is_error_for(Error::Code code, const std::string& id) {
  return [code, id](const ChatStream& e) { return e.has_error() && e.error().code() == code && e.error().id() == id; };
}

EventPredicate is_any_message() {
  return [](const ChatStream& e) { return e.has_chat_message(); };
}

std::string exercise_frame(const std::string& id, const std::string& room, const std::string& sender,
                           const std::string& content) {
  return R"({"chat_message":{"id":")" + id + R"(","room_id":")" + room + R"(","sender_id":")" + sender +
         R"(","content":")" + content + R"("}})";
}

// The first event at or after `from` that matches; events.size() if none.
std::size_t index_of(const std::vector<ChatStream>& events, const EventPredicate& predicate, std::size_t from = 0) {
  for (std::size_t i = from; i < events.size(); ++i) {
    if (predicate(events[i])) return i;
  }
  return events.size();
}

// tests/node/exercise_ws_client.js, the exercise's client on the `ws` package
// from npm: client1 on the first port, client2 on the last.
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

class WsProxyTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// ---------------------------------------------------------------------------
// The core path

TEST_F(WsProxyTest, ExerciseFrameGetsItsEchoAndNothingItWouldNotUnderstand) {
  auto host = all_in_one(dir_.path());
  WsClient client(ws_to(*host));
  ASSERT_TRUE(client.wait_available());
  client.send_text(exercise_frame("msg1", "room1", "client1", "Hello"));

  auto echo = client.wait_for(is_message_id("msg1"));
  ASSERT_TRUE(echo) << host->process().output();
  EXPECT_EQ(echo->chat_message().room_id(), "room1");
  EXPECT_EQ(echo->chat_message().sender_id(), "client1");
  EXPECT_EQ(echo->chat_message().content(), "Hello");
  EXPECT_EQ(echo->chat_message().sequence(), 1U);
  EXPECT_EQ(echo->chat_message().server_id(), "room1:1");
  EXPECT_GT(echo->chat_message().timestamp().seconds(), 1700000000);
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
  const std::string tables = grpc_chat_table(chat_port) + "\n" + ws_proxy_table(chat_port);
  auto service = make_host(dir_.path(), "service", tables, "grpc-chat");
  auto proxy1 = make_host(dir_.path(), "proxy1", tables, "ws-proxy");
  // Proxy 2 finds the chat service through the exercise's .env variables,
  // over a config file that points elsewhere (.env comes first).
  write_file(dir_.path() / "proxy2" / ".env", "GRPC_HOST=127.0.0.1\nGRPC_PORT=" + std::to_string(chat_port) + "\n");
  auto proxy2 = make_host(dir_.path(), "proxy2", ws_proxy_table(free_tcp_port(), "chat_host = \"localhost\"\n"), "ws-proxy");

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
      grpc_chat_table(chat_port, dir_.path() / "service" / "chat.db") + "\n" + ws_proxy_table(chat_port);
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
  auto proxy = make_host(dir_.path(), "proxy", ws_proxy_table(garbage.port()), "ws-proxy");
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
  const std::string slow_tables = grpc_chat_table(chat_port, store) + "\n" +
                                  ws_proxy_table(chat_port, "reconnect_min_ms = 5000\nreconnect_max_ms = 5000\n");
  const std::string quick_tables = grpc_chat_table(chat_port, store) + "\n" + ws_proxy_table(chat_port);
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
  const std::string tables = grpc_chat_table(chat_port, store) + "max_replay = 2\n\n" +
                             ws_proxy_table(chat_port, "reconnect_min_ms = 5000\nreconnect_max_ms = 5000\n");
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
// Bad input: each gets its answer, and nobody else notices

TEST_F(WsProxyTest, InvalidJsonUnknownPayloadsWrongShapesAndBinaryFramesGetErrorsAndTheConnectionLivesOn) {
  auto host = all_in_one(dir_.path());
  auto mallory = joined_client(*host, "mallory", "r");
  auto alice = joined_client(*host, "alice", "r");

  mallory->send_text("this is not JSON");
  auto invalid = mallory->wait_for(is_error_code(Error::INVALID_FRAME));
  ASSERT_TRUE(invalid);
  EXPECT_NE(invalid->error().message().find("invalid JSON"), std::string::npos) << invalid->error().message();

  mallory->send_text(R"({"teleport":{"to":"mars"}})");
  auto unknown = mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->error().frame(), "teleport");
  EXPECT_NE(unknown->error().message().find("teleport"), std::string::npos);

  const auto seen = mallory->size();
  mallory->send_text(R"({"ack":{"id":"x"}})");
  auto server_only = mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD), kDefaultTimeout, seen);
  ASSERT_TRUE(server_only);
  EXPECT_EQ(server_only->error().frame(), "ack");

  const auto seen2 = mallory->size();
  mallory->send_text("{}");
  ASSERT_TRUE(mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD), kDefaultTimeout, seen2));

  const auto seen3 = mallory->size();
  mallory->send_text(R"({"chat_message":{"room_id":["not","a","string"]}})");
  auto shape = mallory->wait_for(is_error_code(Error::INVALID_FRAME), kDefaultTimeout, seen3);
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->error().frame(), "chat_message");

  const auto seen4 = mallory->size();
  mallory->send_text(R"({"chat_message":{"id":"e1","room_id":"r","sender_id":"mallory"}})");
  auto missing = mallory->wait_for(is_error_code(Error::MISSING_FIELD), kDefaultTimeout, seen4);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->error().id(), "e1");

  const auto seen5 = mallory->size();
  mallory->send_binary(std::string("\x00\x01\x02", 3));
  auto binary = mallory->wait_for(is_error_code(Error::INVALID_FRAME), kDefaultTimeout, seen5);
  ASSERT_TRUE(binary);
  EXPECT_NE(binary->error().message().find("binary"), std::string::npos);

  // Still connected and working; alice saw none of it.
  mallory->send(chat_message("r", "mallory", "sorry", "m1"));
  ASSERT_TRUE(mallory->wait_for(is_message_id("m1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("m1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
  EXPECT_EQ(alice->events_matching(is_any_message()).size(), 1U);
}

TEST_F(WsProxyTest, DeepNestingGetsAnInvalidFrameAndTheConnectionChatsOn) {
  auto host = all_in_one(dir_.path());
  auto mallory = joined_client(*host, "mallory", "r");
  auto alice = joined_client(*host, "alice", "r");
  const auto nested_arrays = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  // Past 32 levels: 33 arrays, a chat_message whose content is 31 arrays
  // deep (33 with its two objects), 100 objects, 2000 arrays.
  std::string deep_objects;
  for (int i = 0; i < 100; ++i) deep_objects += R"({"a":)";
  deep_objects += "1" + std::string(100, '}');
  for (const auto& frame : {nested_arrays(33),
                            R"({"chat_message":{"id":"d1","room_id":"r","sender_id":"mallory","content":)" +
                                nested_arrays(31) + "}}",
                            deep_objects, nested_arrays(2000)}) {
    const auto seen = mallory->size();
    mallory->send_text(frame);
    const auto refused = mallory->wait_for(is_error(), kDefaultTimeout, seen);
    ASSERT_TRUE(refused) << frame.substr(0, 80);
    EXPECT_EQ(refused->error().code(), Error::INVALID_FRAME) << refused->DebugString();
    EXPECT_EQ(refused->error().message(), "invalid JSON: too deep") << frame.substr(0, 80);
  }
  // 32 levels are not too deep: what they are is the wrong shape.
  const auto seen = mallory->size();
  mallory->send_text(nested_arrays(32));
  const auto shallower = mallory->wait_for(is_error(), kDefaultTimeout, seen);
  ASSERT_TRUE(shallower);
  EXPECT_EQ(shallower->error().code(), Error::INVALID_FRAME);
  EXPECT_EQ(shallower->error().message().find("too deep"), std::string::npos) << shallower->error().message();

  // The same connection chats on; alice saw none of it.
  mallory->send(chat_message("r", "mallory", "flat again", "m1"));
  ASSERT_TRUE(mallory->wait_for(is_ack_for("m1")));
  ASSERT_TRUE(mallory->wait_for(is_message_id("m1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("m1")));
  alice->send(chat_message("r", "alice", "hello mallory", "a1"));
  ASSERT_TRUE(mallory->wait_for(is_message_id("a1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
  EXPECT_EQ(alice->events_matching(is_any_message()).size(), 2U);
  EXPECT_FALSE(mallory->wait_closed(0ms));
}

TEST_F(WsProxyTest, OversizeFrameClosesWith1009AndOthersCarryOn) {
  auto host = all_in_one(dir_.path());
  auto big = joined_client(*host, "big", "r");
  auto alice = joined_client(*host, "alice", "r");
  big->send(chat_message("r", "big", std::string(70 * 1024, 'x'), "huge"));
  auto closed = big->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1009) << closed->error;

  alice->send(chat_message("r", "alice", "still here", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_message_id("huge")).empty());
  // A new connection is welcome.
  auto again = joined_client(*host, "big", "r");
  again->send(chat_message("r", "big", "smaller", "b2"));
  ASSERT_TRUE(alice->wait_for(is_message_id("b2")));
}

TEST_F(WsProxyTest, AConnectionCannotSpeakForAnotherUser) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");

  alice->send(chat_message("r", "bob", "I am bob", "fake1"));
  auto refused = alice->wait_for(is_error_code(Error::NOT_ALLOWED));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().id(), "fake1");
  EXPECT_EQ(refused->error().user_id(), "bob");
  EXPECT_EQ(refused->error().frame(), "chat_message");

  const auto seen = alice->size();
  alice->send(join("elsewhere", "bob"));
  auto refused_join = alice->wait_for(is_error_code(Error::NOT_ALLOWED), kDefaultTimeout, seen);
  ASSERT_TRUE(refused_join);
  EXPECT_EQ(refused_join->error().frame(), "join");

  // The exercise's client: its first message fixes who it is.
  WsClient legacy(ws_to(*host));
  ASSERT_TRUE(legacy.wait_available());
  legacy.send(chat_message("r", "client1", "first", "l1"));
  ASSERT_TRUE(legacy.wait_for(is_message_id("l1")));
  legacy.send(chat_message("r", "client2", "pretending", "l2"));
  ASSERT_TRUE(legacy.wait_for(is_error_for(Error::NOT_ALLOWED, "l2")));

  // No ?user=: its first join fixes who it is.
  WsClient joiner(ws_to(*host));
  ASSERT_TRUE(joiner.wait_available());
  joiner.send(join("r", "carol"));
  ASSERT_TRUE(joiner.wait_for(is_joined("r")));
  joiner.send(chat_message("r", "dave", "pretending", "j1"));
  auto as_dave = joiner.wait_for(is_error_for(Error::NOT_ALLOWED, "j1"));
  ASSERT_TRUE(as_dave);
  EXPECT_EQ(as_dave->error().user_id(), "dave");

  alice->send(chat_message("r", "alice", "the real alice", "a1"));
  ASSERT_TRUE(bob->wait_for(is_message_id("a1")));
  EXPECT_TRUE(bob->events_matching(is_message_id("j1")).empty());
  EXPECT_TRUE(bob->events_matching(is_message_id("fake1")).empty());
  EXPECT_TRUE(bob->events_matching(is_message_id("l2")).empty());
  EXPECT_TRUE(bob->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, DisallowedOriginIsRefusedWith403BeforeTheUpgrade) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");
  auto evil = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .origin = std::string("https://evil.example")});
  EXPECT_EQ(evil.status, 403) << evil.error;
  EXPECT_NE(evil.body.find("origin not allowed"), std::string::npos) << evil.body;
  auto allowed = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .origin = std::string(kAllowedOrigin)});
  EXPECT_EQ(allowed.status, 101) << allowed.error;
  auto no_origin = try_upgrade(WsOptions{.port = host->port("ws-proxy")});  // not a browser
  EXPECT_EQ(no_origin.status, 101) << no_origin.error;
  auto wrong_path = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .target = "/admin"});
  EXPECT_EQ(wrong_path.status, 404);
  auto bad_query = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .target = "/ws?room=lobby"});
  EXPECT_EQ(bad_query.status, 400) << "room without user";
  auto ws_path = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .target = "/ws?user=a%20b&room=x"});
  EXPECT_EQ(ws_path.status, 101);

  // Nobody already connected noticed.
  alice->send(chat_message("r", "alice", "still fine", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, BadUpgradeRequestsAndProtocolErrorsGetTheirAnswersAndOthersCarryOn) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");

  auto status_of = [](const std::string& head) { return head.substr(0, head.find("\r\n")); };
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).upgrade()), "HTTP/1.1 101 Switching Protocols");
  const auto accept = RawPeer(host->port("ws-proxy")).upgrade();
  EXPECT_NE(accept.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << accept;
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
            "HTTP/1.1 426 Upgrade Required");
  const auto version = RawPeer(host->port("ws-proxy"))
                           .request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  EXPECT_EQ(status_of(version), "HTTP/1.1 426 Upgrade Required");
  EXPECT_NE(version.find("Sec-WebSocket-Version: 13"), std::string::npos) << version;
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy"))
                          .request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")),
            "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).upgrade("X-Padding: " + std::string(9000, 'p') + "\r\n")),
            "HTTP/1.1 431 Request Header Fields Too Large");
  const auto upgrade_to = [](const std::string& target) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  };
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request(upgrade_to("/?user=x&room=%zz"))), "HTTP/1.1 400 Bad Request");
  // Ids of the query: 128 bytes are fine, 129 are refused before any 101
  // (the first answer on the connection is the 400).
  const std::string id128(128, 'u');
  const std::string id129(129, 'u');
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request(upgrade_to("/?user=" + id128 + "&room=" + id128))),
            "HTTP/1.1 101 Switching Protocols");
  const std::string id129_decoded = std::string(43, 'u') + "%C3%A9" + std::string(84, 'u');  // é: two bytes
  for (const auto& target : {"/?user=" + id129, "/?user=x&room=" + id129, "/?user=" + id129_decoded}) {
    EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request(upgrade_to(target))), "HTTP/1.1 400 Bad Request") << target;
  }

  // On an open connection: each protocol error closes it with its code.
  const std::vector<std::pair<std::string, int>> cases = {
      {raw_frame(0x81, "unmasked", /*masked=*/false), 1002},
      {raw_frame(0xC1, "reserved bit"), 1002},
      {raw_frame(0x83, "opcode 3"), 1002},
      {raw_frame(0x80, "continuation of nothing"), 1002},
      {raw_frame(0x09, "fragmented ping"), 1002},
      {raw_frame(0x81, "not UTF-8 \xff"), 1007},
      {raw_frame(0x88, std::string("\x03\xe8", 2)), 1000},  // the client's own close, echoed
  };
  for (const auto& [bytes, code] : cases) {
    RawPeer peer(host->port("ws-proxy"));
    ASSERT_EQ(status_of(peer.upgrade()), "HTTP/1.1 101 Switching Protocols");
    peer.send_bytes(bytes);
    EXPECT_EQ(peer.read_close_code(), code) << "after frame of " << bytes.size() << " bytes";
  }
  // A ping is answered; the connection lives on.
  RawPeer pinger(host->port("ws-proxy"));
  ASSERT_EQ(status_of(pinger.upgrade()), "HTTP/1.1 101 Switching Protocols");
  pinger.send_bytes(raw_frame(0x89, "are you there") + raw_frame(0x88, std::string("\x03\xe8", 2)));
  EXPECT_EQ(pinger.read_close_code(), 1000);

  alice->send(chat_message("r", "alice", "still fine", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, AConnectionWithoutAWholeUpgradeRequestInTheHandshakeTimeoutIsClosed) {
  auto host = all_in_one(dir_.path(), "handshake_timeout_seconds = 1\n");
  auto alice = joined_client(*host, "alice", "r");
  const std::string request =
      "GET /?user=slow&room=r HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  // Closed by the server (end of stream) well within this, and not before
  // the timeout: a second.
  constexpr auto kWithin = 10s;
  const auto began = std::chrono::steady_clock::now();
  RawPeer silent(host->port("ws-proxy"));  // connects, says nothing
  RawPeer partial(host->port("ws-proxy"));  // half a request, then nothing
  partial.send_bytes(request.substr(0, request.size() / 2));
  // Meanwhile a client that completes its upgrade chats as usual, past the second.
  auto bob = joined_client(*host, "bob", "r");

  // A byte every 200 ms: bytes keep coming, the request never completes.
  RawPeer trickle(host->port("ws-proxy"));
  const auto trickle_began = std::chrono::steady_clock::now();
  EXPECT_TRUE(trickle.trickle_until_end(request, 200ms, kWithin));
  EXPECT_GE(std::chrono::steady_clock::now() - trickle_began, 900ms);
  EXPECT_TRUE(silent.wait_end(kWithin));
  EXPECT_TRUE(partial.wait_end(kWithin));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 900ms);

  bob->send(chat_message("r", "bob", "still here", "b1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("b1")));
  ASSERT_TRUE(bob->wait_for(is_message_id("b1")));
  EXPECT_FALSE(bob->wait_closed(0ms));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, AWildcardOriginAcceptsEveryPage) {
  auto host = all_in_one(dir_.path(), "allowed_origins = [\"*\"]\n");
  for (const std::string origin : {"https://evil.example", "http://localhost:8081", "null"}) {
    auto answer = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .origin = origin});
    EXPECT_EQ(answer.status, 101) << origin << ": " << answer.error;
  }
}

TEST_F(WsProxyTest, ConnectionsOverTheLimitGet503) {
  auto host = all_in_one(dir_.path(), "max_connections = 2\n");
  WsClient one(ws_to(*host)), two(ws_to(*host));
  ASSERT_TRUE(one.wait_available());
  ASSERT_TRUE(two.wait_available());
  auto third = try_upgrade(ws_to(*host));
  EXPECT_EQ(third.status, 503);
  two.close();
  ASSERT_TRUE(two.wait_closed());
  // The slot is free again.
  std::optional<UpgradeAnswer> later;
  for (int i = 0; i < 50; ++i) {
    later = try_upgrade(ws_to(*host));
    if (later->status == 101) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(later->status, 101);
}

TEST_F(WsProxyTest, TooFastASenderIsRateLimitedThenClosedWith1008) {
  auto host = all_in_one(dir_.path(), "max_messages_per_second = 5\nmessage_burst = 5\nrate_limit_strikes = 20\n");
  auto flood = joined_client(*host, "flood", "r");
  auto alice = joined_client(*host, "alice", "r");
  const auto flood_began = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) flood->send(chat_message("r", "flood", "spam", "f" + std::to_string(i)));
  auto limited = flood->wait_for(is_error_code(Error::RATE_LIMITED));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->error().frame(), "chat_message");
  EXPECT_FALSE(limited->error().id().empty()) << "the refused message is named";
  // The first ones got through.
  ASSERT_TRUE(alice->wait_for(is_message_id("f0")));

  for (int i = 10; i < 60; ++i) flood->send(chat_message("r", "flood", "spam", "f" + std::to_string(i)));
  auto closed = flood->wait_closed();
  ASSERT_TRUE(closed);
  const auto flood_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_began).count();
  EXPECT_EQ(closed->code, 1008) << closed->error;
  EXPECT_GE(flood->events_matching(is_error_code(Error::RATE_LIMITED)).size(), 20U);

  alice->send(chat_message("r", "alice", "calm", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
  // Of the 60, only the burst of 5 and 5 a second for as long as the flood
  // lasted (under a second on an idle machine, longer on a busy one) reached
  // the room, one more for rounding; then a1.
  const auto from_flood = 5U + static_cast<std::size_t>(5 * flood_seconds) + 1U;
  EXPECT_LE(alice->events_matching(is_any_message()).size(), from_flood + 1U)
      << "the flood lasted " << flood_seconds << " s";
}

// A member of room "r" that reads nothing, with a tiny receive window: the
// proxy's writes to it stall almost at once.
std::unique_ptr<WsClient> sloth_in_room(TestHost& host) {
  return std::make_unique<WsClient>(
      WsOptions{.port = host.port("ws-proxy"), .target = target("sloth", "r"), .receive_buffer_bytes = 4096, .read = false});
}

// Slow-reader tests: a small kernel send buffer, and no rate limit in the way.
constexpr const char* kSlowReaderConfig =
    "socket_send_buffer_bytes = 8192\nmax_messages_per_second = 100000\nmessage_burst = 100000\n";

TEST_F(WsProxyTest, AClientThatNeverReadsIsDroppedAndOthersGetEverything) {
  auto host = all_in_one(dir_.path(), std::string("send_queue_limit = 192\n") + kSlowReaderConfig);
  auto sloth = sloth_in_room(*host);
  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");
  ASSERT_TRUE(alice->wait_for(is_presence("r", Presence::JOINED, "bob")));

  // Batches small enough for readers to keep up (at most 2 x 16 frames queued
  // each, far below the limit even when a reader's thread lags on a loaded
  // machine), far too much in all for a client that reads nothing.
  constexpr int kBatches = 25;
  constexpr int kBatch = 16;
  constexpr std::size_t kMessages = kBatches * kBatch;
  const std::string content(2000, 'z');
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kBatch; ++i) {
      alice->send(chat_message("r", "alice", content, "a" + std::to_string(b * kBatch + i)));
    }
    ASSERT_TRUE(alice->wait_for(is_message_id("a" + std::to_string(b * kBatch + kBatch - 1)))) << "batch " << b;
  }
  ASSERT_TRUE(host->process().wait_for_line(std::regex("user 'sloth'\\): too slow.*closed with 1008")))
      << host->process().output();
  for (auto* client : {alice.get(), bob.get()}) {
    EXPECT_EQ(client->wait_for_count(is_any_message(), kMessages).size(), kMessages);
  }
  std::size_t dropped = 0;
  for (const auto& line : host->process().lines()) dropped += line.text.find("too slow") != std::string::npos ? 1 : 0;
  EXPECT_EQ(dropped, 1U) << "only the sloth is dropped:\n" << host->process().output();
  // What the sloth finds when it finally reads: some frames, then the close
  // frame with its code (it followed the frame that was being written).
  sloth->start_reading();
  auto closed = sloth->wait_closed(15s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008) << closed->error;
  EXPECT_LT(sloth->events_matching(is_any_message()).size(), kMessages);
}

TEST_F(WsProxyTest, AClientThatNeverReadsIsDroppedByTheBytesWaitingForItToo) {
  // Far from the frame limit: a few large frames hold as much memory as many small ones.
  auto host = all_in_one(dir_.path(), std::string("send_queue_limit = 100000\nsend_queue_bytes = 65536\n") +
                                           kSlowReaderConfig);
  auto sloth = sloth_in_room(*host);
  auto alice = joined_client(*host, "alice", "r");
  const std::string content(3000, 'z');
  constexpr int kMessages = 120;  // 360 KB in all: several times what the sloth may have waiting
  for (int i = 0; i < kMessages; ++i) {
    alice->send(chat_message("r", "alice", content, "a" + std::to_string(i)));
    if (i % 8 == 7) {
      ASSERT_TRUE(alice->wait_for(is_message_id("a" + std::to_string(i))));
    }
  }
  ASSERT_TRUE(host->process().wait_for_line(
      std::regex("user 'sloth'\\): too slow, 65536 bytes of frames waiting; closed with 1008")))
      << host->process().output();
  EXPECT_EQ(alice->wait_for_count(is_any_message(), kMessages).size(), static_cast<std::size_t>(kMessages));
  sloth->start_reading();
  auto closed = sloth->wait_closed(15s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008) << closed->error;
}

TEST_F(WsProxyTest, AReplayLongerThanTheFrameLimitReachesAClientThatReads) {
  // A replay comes from the chat service all at once, far faster than the
  // proxy writes it out: a client that reads is not "too slow" for it, however
  // small the frame limit. Both kinds: a join with `since`, and what the
  // room missed while the proxy's link to the chat service was down.
  const auto chat_port = free_tcp_port();
  const auto store = dir_.path() / "service" / "data" / "chat.db";
  const std::string tables =
      grpc_chat_table(chat_port, store) + "\n" +
      ws_proxy_table(chat_port, "send_queue_limit = 16\nreconnect_min_ms = 8000\nreconnect_max_ms = 8000\n");
  auto service = make_host(dir_.path(), "service", tables, "grpc-chat");
  auto proxy = make_host(dir_.path(), "proxy", tables, "ws-proxy");
  constexpr int kMissed = 600;
  const auto say_many = [&](const std::string& prefix) {
    ChatStreamClient direct(chat_channel("127.0.0.1", chat_port), test_service_token());
    for (int i = 0; i < kMissed; ++i) direct.send(chat_message("r", "bob", "missed", prefix + std::to_string(i)));
    ASSERT_TRUE(direct.wait_for(is_message_id(prefix + std::to_string(kMissed - 1)), 30s));
  };
  say_many("b");

  WsClient alice(ws_to(*proxy, "/?user=alice"));
  alice.send(join("r", "alice", 0));
  auto joined = alice.wait_for(is_joined("r"));
  ASSERT_TRUE(joined) << proxy->process().output();
  EXPECT_EQ(joined->joined().replayed(), static_cast<std::uint64_t>(kMissed));
  ASSERT_EQ(alice.wait_for_count(is_any_message(), kMissed, 30s).size(), static_cast<std::size_t>(kMissed))
      << proxy->process().output();

  service->stop();
  ASSERT_TRUE(alice.wait_for(is_service_status(false)));
  service->start();
  say_many("c");  // while the proxy waits to reconnect
  ASSERT_EQ(alice.wait_for_count(is_any_message(), 2 * kMissed, 30s).size(), static_cast<std::size_t>(2 * kMissed))
      << proxy->process().output();

  std::vector<std::uint64_t> sequences;
  for (const auto& e : alice.events_matching(is_any_message())) sequences.push_back(e.chat_message().sequence());
  std::vector<std::uint64_t> expected(2 * kMissed);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(sequences, expected);
  EXPECT_EQ(proxy->process().output().find("too slow"), std::string::npos) << proxy->process().output();
}

TEST_F(WsProxyTest, ASilentClientThatAnswersPingsStaysAndOneThatAnswersNothingIsDropped) {
  // Debug logging: dropping an idle connection is routine, not worth a line at info.
  auto host = all_in_one(dir_.path(), "idle_timeout_seconds = 2\n", {{"CHATHOST_LOG_LEVEL", "debug"}});
  auto quiet = joined_client(*host, "quiet", "r");  // reads, so it answers pings; sends nothing
  WsClient deaf(WsOptions{.port = host->port("ws-proxy"), .read = false});

  ASSERT_TRUE(host->process().wait_for_line(std::regex(R"(connection \d+ \(.*\): silent for 2 s; dropped)"), 20s))
      << host->process().output();
  deaf.start_reading();
  ASSERT_TRUE(deaf.wait_closed());
  // quiet has been silent as long as deaf, and is still here.
  quiet->send(chat_message("r", "quiet", "still here", "q1"));
  ASSERT_TRUE(quiet->wait_for(is_message_id("q1")));
  EXPECT_FALSE(quiet->wait_closed(0ms));
  std::size_t dropped = 0;
  for (const auto& line : host->process().lines()) dropped += line.text.find("; dropped") != std::string::npos ? 1 : 0;
  EXPECT_EQ(dropped, 1U) << host->process().output();
}

// ---------------------------------------------------------------------------
// Tokens (auth_secret_file)

const std::string kTokenSecret = "a secret of the test, longer than thirty-two bytes";

std::string token_config(const std::filesystem::path& dir) {
  const auto path = dir / "token-secret";
  write_file(path, kTokenSecret + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return "auth_secret_file = \"" + path.string() + "\"\nauth_leeway_seconds = 0\n";
}

std::string token_for(const std::string& user, std::chrono::seconds valid_for = 1h,
                      const std::string& secret = kTokenSecret) {
  return chat::auth::mint_token(secret, user, std::chrono::system_clock::now() + valid_for);
}

TEST_F(WsProxyTest, WithASecretTheUpgradeWantsATokenAndItsSubjectIsTheUser) {
  auto host = all_in_one(dir_.path(), token_config(dir_.path()));
  auto upgrade = [&host](const std::string& target) { return try_upgrade(ws_to(*host, target)); };

  const auto none = upgrade("/?user=alice&room=r");
  EXPECT_EQ(none.status, 401) << none.body << none.error;
  EXPECT_EQ(upgrade("/?access_token=not-a-token").status, 401);
  EXPECT_EQ(upgrade("/?access_token=" + token_for("alice", 1h, "another secret, quite as long as ours is")).status,
            401);
  const auto expired = upgrade("/?access_token=" + token_for("alice", -1min));
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("token expired"), std::string::npos) << expired.body;
  const auto impostor = upgrade("/?user=bob&access_token=" + token_for("alice"));
  EXPECT_EQ(impostor.status, 401);
  EXPECT_NE(impostor.body.find("subject"), std::string::npos) << impostor.body;

  // A valid token: its subject is the user, even with no user= (room= alone is enough).
  WsClient alice(ws_to(*host, "/?room=r&access_token=" + token_for("alice")));
  ASSERT_TRUE(alice.wait_for(is_joined("r")));
  alice.send(chat_message("r", "", "hi", "a1"));
  auto echo = alice.wait_for(is_message_id("a1"));
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->chat_message().sender_id(), "alice");
  alice.send(chat_message("r", "mallory", "it was me", "a2"));
  auto refused = alice.wait_for(is_error_for(Error::NOT_ALLOWED, "a2"));
  ASSERT_TRUE(refused);
  EXPECT_TRUE(alice.events_matching(is_message_id("a2")).empty());
  // The token never reaches the log.
  for (const auto& line : host->process().lines()) EXPECT_EQ(line.text.find("access_token="), std::string::npos);
}

TEST_F(WsProxyTest, AnExpiringTokenClosesItsConnectionWith1008) {
  auto host = all_in_one(dir_.path(), token_config(dir_.path()));
  WsClient brief(ws_to(*host, "/?room=r&access_token=" + token_for("brief", 2s)));
  WsClient lasting(ws_to(*host, "/?room=r&access_token=" + token_for("lasting")));
  ASSERT_TRUE(brief.wait_for(is_joined("r")));
  ASSERT_TRUE(lasting.wait_for(is_joined("r")));
  auto closed = brief.wait_closed(15s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008) << closed->error;
  EXPECT_EQ(closed->reason, "token expired");
  // The other connection carries on.
  lasting.send(chat_message("r", "lasting", "still here", "l1"));
  ASSERT_TRUE(lasting.wait_for(is_message_id("l1")));
}

TEST_F(WsProxyTest, WithACertificateTheProxySpeaksWssAndTheChatWorks) {
  namespace ssl = boost::asio::ssl;
  namespace websocket = boost::beast::websocket;
  const auto cert = make_self_signed_certificate(dir_.path());
  auto host = all_in_one(dir_.path(), "tls_cert_file = \"" + cert.cert_file.string() + "\"\ntls_key_file = \"" +
                                          cert.key_file.string() + "\"\n");
  ASSERT_TRUE(host->process().wait_for_line(std::regex(R"(serving WebSockets on wss://)"), 1s))
      << host->process().output();

  boost::asio::io_context io;
  ssl::context trust(ssl::context::tls_client);
  trust.add_certificate_authority(boost::asio::buffer(cert.cert_pem));
  trust.set_verify_mode(ssl::verify_peer);
  websocket::stream<boost::beast::ssl_stream<boost::asio::ip::tcp::socket>> ws(io, trust);
  // SNI, as SSL_set_tlsext_host_name does (a macro with a C cast).
  char server_name[] = "localhost";
  ASSERT_EQ(SSL_ctrl(ws.next_layer().native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     server_name),
            1);
  ws.next_layer().set_verify_callback(ssl::host_name_verification("localhost"));
  boost::beast::get_lowest_layer(ws).connect({boost::asio::ip::make_address("127.0.0.1"), host->port("ws-proxy")});
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("localhost", "/?user=alice&room=r");
  ws.text(true);
  // Several frames at once, so some go out in one batch.
  for (int i = 0; i < 5; ++i) ws.write(boost::asio::buffer(exercise_frame("t" + std::to_string(i), "r", "alice", "over TLS")));
  std::set<std::string> echoed;
  for (int frames = 0; frames < 50 && echoed.size() < 5; ++frames) {
    boost::beast::flat_buffer buffer;
    ws.read(buffer);
    ChatStream event;
    ASSERT_TRUE(chat::json::decode(boost::beast::buffers_to_string(buffer.data()), event).empty());
    if (event.has_chat_message()) echoed.insert(event.chat_message().id());
  }
  EXPECT_EQ(echoed, (std::set<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  ws.close(websocket::close_code::normal);

  // Plain ws:// to that port gets no upgrade.
  EXPECT_NE(try_upgrade(ws_to(*host)).status, 101);
}

// How many threads of process `pid` carry the name `name`.
std::size_t threads_named(pid_t pid, const std::string& name) {
  std::size_t count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string comm = read_file(task.path() / "comm");
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm == name) ++count;
  }
  return count;
}

TEST_F(WsProxyTest, IoThreadsComeFromTheConfigAndDefaultToOnePerCore) {
  auto three = all_in_one(dir_.path(), "threads = 3\n", {}, "three");
  EXPECT_EQ(threads_named(three->process().pid(), "ws-proxy-io"), 3U);
  EXPECT_TRUE(three->process().wait_for_line(std::regex(R"(serving WebSockets on .* \(3 threads\))"), 1s));

  auto cores = all_in_one(dir_.path(), "threads = 0\n", {}, "cores");
  const auto expected = std::max(1U, std::thread::hardware_concurrency());
  EXPECT_EQ(threads_named(cores->process().pid(), "ws-proxy-io"), expected);
}

TEST_F(WsProxyTest, WithReusePortTwoProxyHostsShareOnePort) {
  const auto chat_port = free_tcp_port();
  const auto ws_port = free_tcp_port();
  const std::string shared_port = "port = " + std::to_string(ws_port) + "\n";
  auto service = make_host(dir_.path(), "service", grpc_chat_table(chat_port), "grpc-chat");
  auto proxy1 = make_host(dir_.path(), "proxy1", ws_proxy_table(chat_port, shared_port + "reuse_port = true\n"), "ws-proxy");
  auto proxy2 = make_host(dir_.path(), "proxy2", ws_proxy_table(chat_port, shared_port + "reuse_port = true\n"), "ws-proxy");
  EXPECT_EQ(proxy1->port("ws-proxy"), ws_port);
  EXPECT_EQ(proxy2->port("ws-proxy"), ws_port);

  // Every process on the port must set it: one that does not cannot bind.
  const auto lone_dir = dir_.path() / "lone";
  write_file(lone_dir / "chat.toml", "[host]\n\n" + ws_proxy_table(chat_port, shared_port));
  HostProcess lone(ProcessOptions{.executable = host_binary(),
                                  .args = {"--config", (lone_dir / "chat.toml").string(), "--plugins", "ws-proxy"},
                                  .unset_env = host_variables(),
                                  .working_dir = lone_dir});
  const auto lone_exit = lone.wait_exit(15s);
  ASSERT_TRUE(lone_exit);
  EXPECT_NE(*lone_exit, 0);
  EXPECT_NE(lone.output().find("in use"), std::string::npos) << lone.output();

  // Clients of the shared port, whichever process the kernel gives them to, chat together.
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(joined_client(*proxy1, "user" + std::to_string(i), "r"));
  clients.front()->send(chat_message("r", "user0", "over one port", "u0"));
  for (const auto& client : clients) ASSERT_TRUE(client->wait_for(is_message_id("u0")));
}

// ---------------------------------------------------------------------------
// Metrics, as history-http exposes them for every plugin of its host

std::string http_get(std::uint16_t port, const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response.body();
}

TEST_F(WsProxyTest, MetricsCountConnectionsFramesSlowClientsAndUpstreamAvailability) {
  const auto chat_port = free_tcp_port();
  auto host = make_host(dir_.path(), "host",
            grpc_chat_table(chat_port) + "\n" + ws_proxy_table(chat_port) + "\n[history-http]\nhost = \"127.0.0.1\"\n" +
                "port = 0\nchat_port = " + std::to_string(chat_port) + "\n",
            "grpc-chat,ws-proxy,history-http");
  const auto http_port = host->port("history-http");

  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");
  // More connections and rooms than streams: the proxy multiplexes.
  std::vector<std::unique_ptr<WsClient>> others;
  for (int i = 0; i < 6; ++i) {
    others.push_back(joined_client(*host, "other" + std::to_string(i), "room" + std::to_string(i)));
  }
  alice->send(chat_message("r", "alice", "counted", "a1"));
  ASSERT_TRUE(bob->wait_for(is_message_id("a1")));
  const std::string text = http_get(http_port, "/metrics");
  EXPECT_EQ(metric(text, "chat_grpc_streams"), 2) << "upstream_streams, not one per connection:\n" << text;
  EXPECT_EQ(metric(text, "chat_ws_connections"), 8) << text;
  EXPECT_EQ(metric(text, "chat_ws_upstream_available"), 1) << text;
  EXPECT_GE(metric(text, "chat_ws_messages_in_total"), 1) << text;
  EXPECT_GE(metric(text, "chat_ws_messages_out_total"), 4) << text;
  EXPECT_EQ(find_metric(text, "chat_ws_slow_clients_dropped_total"), 0) << text;
  bob->close();
  ASSERT_TRUE(bob->wait_closed());
  for (int i = 0; i < 50 && metric(http_get(http_port, "/metrics"), "chat_ws_connections") != 7; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metric(http_get(http_port, "/metrics"), "chat_ws_connections"), 7);
}

// ---------------------------------------------------------------------------
// The exercise's Node.js client, with the `ws` package from npm

TEST_F(WsProxyTest, NodeWsClientSendingTheExerciseFramesWorks) {
  auto host = all_in_one(dir_.path());
  EXPECT_TRUE(run_exercise_client({host->port("ws-proxy")}));
}

// ---------------------------------------------------------------------------
// Fan-out inside the proxy: the part no client can see

class RecordingClient final : public chat::proxy::Client {
 public:
  RecordingClient(std::uint64_t id, chat::ClientKind kind) : id_(id), kind_(kind) {}
  std::uint64_t id() const override { return id_; }
  void send(chat::proxy::Frame frame) override { frames.push_back(std::move(frame)); }
  chat::ClientKind kind() const override { return kind_; }

  std::vector<chat::proxy::Frame> frames;

 private:
  std::uint64_t id_;
  chat::ClientKind kind_;
};

TEST(WsProxyFanOut, OneSerializedFrameIsSharedByEveryLiveMemberOfTheRoom) {
  const chat::proxy::Fanout inline_fanout;  // no shards: queued at once
  chat::proxy::LocalRoom room(inline_fanout);
  using chat::ClientKind;
  auto member = [&room](std::uint64_t id, ClientKind kind, bool live) {
    auto client = std::make_shared<RecordingClient>(id, kind);
    room.set_live(*room.add(client, "u" + std::to_string(id)).first, live);
    return client;
  };
  auto alice = member(1, ClientKind::full_protocol, true);
  auto bob = member(2, ClientKind::full_protocol, true);
  auto legacy = member(3, ClientKind::messages_only, true);  // chat messages only
  auto joining = member(4, ClientKind::full_protocol, false);  // waits for its own replay

  ChatStream event = chat_message("r", "u1", "hi", "m1");
  event.mutable_chat_message()->set_sequence(1);
  const chat::proxy::Frame frame = chat::proxy::make_frame(event);
  room.deliver(event.chat_message(), frame);
  for (const auto& client : {alice, bob, legacy}) {
    ASSERT_EQ(client->frames.size(), 1U) << client->id();
    EXPECT_TRUE(client->frames[0].shares_buffer_with(frame)) << client->id() << " got a copy, not the shared buffer";
  }
  EXPECT_TRUE(joining->frames.empty());

  // A replay overlapping live traffic: nothing twice.
  room.deliver(event.chat_message(), chat::proxy::make_frame(event));
  EXPECT_EQ(alice->frames.size(), 1U);

  // Presence and the like: shared too, and only for clients that speak events.
  const auto presence = chat::proxy::make_frame(ChatStream{});
  room.tell_live_members(presence);
  EXPECT_TRUE(alice->frames.back().shares_buffer_with(presence));
  EXPECT_TRUE(bob->frames.back().shares_buffer_with(presence));
  EXPECT_EQ(legacy->frames.size(), 1U);
  EXPECT_TRUE(joining->frames.empty());
}

}  // namespace
}  // namespace chathost::test
