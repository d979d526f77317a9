// Faults with real host processes on loopback: the chat service killed while
// a hundred clients send, a proxy killed (its clients moving to another one,
// or back to it restarted) or stopped under load, resends after a reconnect,
// the chat service unreachable and flapping. Each test asserts what clients
// see and what the store holds after. A store that cannot write or be
// opened, and frozen hosts, are in faults_store_keepalive_test.cpp.
//
// No timing assertions: load runs until enough has happened, waits are
// generous.
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
// kill -9 of the chat service while a hundred clients send

TEST_F(FaultTest, ChatServiceKilledWhileAHundredClientsSendKeepsEveryAckOnceAndReconnectsRecover) {
  constexpr std::size_t kClients = 100;
  constexpr std::size_t kRooms = 10;
  const auto port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port, dir_ / "chat.db"));
  const auto user = [](std::size_t i) { return "u" + std::to_string(i); };
  const auto room = [](std::size_t i) { return "room" + std::to_string(i % kRooms); };

  std::vector<std::unique_ptr<ChatStreamClient>> clients;
  {
    const auto channel = chat_channel("127.0.0.1", port);
    for (std::size_t i = 0; i < kClients; ++i) {
      clients.push_back(std::make_unique<ChatStreamClient>(channel, test_service_token()));
      clients.back()->send(join(room(i), user(i)));
    }
  }
  for (std::size_t i = 0; i < kClients; ++i) ASSERT_TRUE(clients[i]->wait_for(is_joined(room(i)), kPatience));

  // One message per client per round, until the kill (the bound only keeps a
  // broken test from filling the disk).
  constexpr int kMaxRounds = 300;
  Traffic traffic(
      kClients, 10ms,
      [&](std::size_t i, int n) {
        const auto id = message_id(user(i), n);
        clients[i]->send(chat_message(room(i), user(i), "text of " + id, id));
      },
      kMaxRounds);
  // Killed while sending: after 500 acks, well before the rounds run out.
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  for (std::size_t acked = 0; acked < 500 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(20ms);
    acked = 0;
    for (const auto& client : clients) acked += acks_in(client->events()).size();
  }
  service->kill();
  const int rounds_at_kill = traffic.rounds();
  traffic.stop();
  EXPECT_LT(rounds_at_kill, kMaxRounds) << "the load ended before the kill";

  // What each client knew when the service died: its acks, and the last
  // message of its room it saw (live delivery had no gap).
  std::vector<chat::Ack> acks;
  std::vector<std::uint64_t> last_seen(kClients, 0);
  for (std::size_t i = 0; i < kClients; ++i) {
    const auto events = clients[i]->events();
    add_acks(acks, events);
    const auto seen = sequences_in(events, room(i));
    ASSERT_EQ(seen, range(1, seen.size())) << user(i);
    last_seen[i] = seen.size();
  }
  clients.clear();

  service->start();
  ASSERT_EQ(service->port("grpc-chat"), port);
  std::map<std::string, std::vector<ChatMessage>> history;
  for (std::size_t r = 0; r < kRooms; ++r) {
    const auto name = room(r);
    history[name] = stored_messages(port, name);
    EXPECT_TRUE(holds_each_ack_once(history[name], name, acks));
  }

  // Each client comes back with since = the last sequence it saw and gets
  // exactly the rest of its room.
  const auto channel = chat_channel("127.0.0.1", port);
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<ChatStreamClient>(channel, test_service_token()));
    clients.back()->send(join(room(i), user(i), last_seen[i]));
  }
  for (std::size_t i = 0; i < kClients; ++i) {
    const auto& stored = history[room(i)];
    auto joined = clients[i]->wait_for(is_joined(room(i)), kPatience);
    ASSERT_TRUE(joined) << user(i);
    EXPECT_FALSE(joined->joined().history_gap()) << user(i);
    EXPECT_EQ(joined->joined().last_sequence(), stored.size()) << user(i);
    const auto replayed = clients[i]->wait_for_count(is_message_in(room(i)), stored.size() - last_seen[i], kPatience);
    ASSERT_EQ(sequences_in(replayed, room(i)), range(last_seen[i] + 1, stored.size())) << user(i);
    for (const auto& e : replayed) {
      EXPECT_EQ(e.chat_message().id(), stored[e.chat_message().sequence() - 1].id()) << user(i);
    }
  }
}


// ---------------------------------------------------------------------------
// kill -9 of a proxy host

TEST_F(FaultTest, ProxyKilledItsClientsRecoverThroughAnotherProxyAndTheOtherProxysClientsNeverNotice) {
  constexpr std::size_t kPerProxy = 4;
  const auto port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port));
  auto doomed = chat_host(dir_.path(), "doomed", {"ws-proxy"},
                                           proxy_table(port));
  auto steady = chat_host(dir_.path(), "steady", {"ws-proxy"}, proxy_table(port));
  const auto room = [](std::size_t i) { return "r" + std::to_string(i % 2); };
  const auto a = [](std::size_t i) { return "a" + std::to_string(i); };  // on the doomed proxy
  const auto b = [](std::size_t i) { return "b" + std::to_string(i); };  // on the steady one
  auto io = std::make_shared<WsIo>(2);
  std::vector<std::unique_ptr<WsClient>> moving, staying;
  for (std::size_t i = 0; i < kPerProxy; ++i) {
    moving.push_back(ws_member(*doomed, a(i), room(i), io));
    staying.push_back(ws_member(*steady, b(i), room(i), io));
  }
  ASSERT_TRUE(first_messages_acknowledged(moving, a, room));

  Traffic traffic(kPerProxy, 30ms, [&](std::size_t i, int n) {
    staying[i]->send(chat_message(room(i), b(i), "steady", message_id(b(i), n)));
  });
  std::vector<chat::Ack> acks;
  const auto last_seen = kill_under_traffic(*doomed, moving, a, room, traffic, acks);

  // They come back on the other proxy: join with since, resend what was in flight.
  const auto back = rejoin_and_resend_all(*steady, a, room, last_seen, io);
  ASSERT_TRUE(traffic.stop_after(3));
  // A last message per room: whoever has it has everything before it.
  for (std::size_t r = 0; r < 2; ++r) staying[r]->send(chat_message(room(r), b(r), "last", "end-" + room(r)));
  for (std::size_t i = 0; i < kPerProxy; ++i) {
    ASSERT_TRUE(staying[i]->wait_for(is_message_id("end-" + room(i)), kPatience)) << b(i);
    ASSERT_TRUE(back[i]->wait_for(is_message_id("end-" + room(i)), kPatience)) << a(i);
  }

  for (std::size_t i = 0; i < kPerProxy; ++i) {
    // The steady proxy's clients noticed nothing: no error, no status change, no gap.
    const auto events = staying[i]->events();
    for (const auto& e : events) {
      EXPECT_FALSE(e.has_error()) << b(i) << ": " << e.DebugString();
      EXPECT_FALSE(e.has_service_status() && !e.service_status().available()) << b(i) << ": " << e.DebugString();
    }
    const auto seen = sequences_in(events, room(i));
    EXPECT_EQ(seen, range(1, seen.size())) << b(i);
    // The moved clients have their room whole: before the kill, then replay and live.
    const auto after = sequences_in(back[i]->events(), room(i));
    EXPECT_EQ(after, range(last_seen[i] + 1, seen.size())) << a(i);
    add_acks(acks, staying[i]->events());
    add_acks(acks, back[i]->events());
  }
  EXPECT_TRUE(rooms_hold_each_ack_once(port, {"r0", "r1"}, acks));
}

TEST_F(FaultTest, ProxyKilledAndRestartedOnItsPortItsClientsComeBackToItAndMissNothing) {
  constexpr std::size_t kClients = 4;
  const auto port = free_tcp_port();
  const auto proxy_port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port));
  auto proxy = chat_host(dir_.path(), "proxy", {"ws-proxy"}, proxy_table(port, "", proxy_port));
  ASSERT_EQ(proxy->port("ws-proxy"), proxy_port);
  const auto room = [](std::size_t r) { return "r" + std::to_string(r % 2); };
  const auto a = [](std::size_t i) { return "a" + std::to_string(i); };  // on the proxy
  const auto w = [](std::size_t r) { return "w" + std::to_string(r); };  // writers over gRPC, one per room
  auto io = std::make_shared<WsIo>(2);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (std::size_t i = 0; i < kClients; ++i) clients.push_back(ws_member(*proxy, a(i), room(i), io));
  std::vector<std::unique_ptr<ChatStreamClient>> writers;
  for (std::size_t r = 0; r < 2; ++r) {
    writers.push_back(std::make_unique<ChatStreamClient>(chat_channel("127.0.0.1", port), test_service_token()));
    writers[r]->send(join(room(r), w(r)));
    ASSERT_TRUE(writers[r]->wait_for(is_joined(room(r)), kPatience));
  }
  ASSERT_TRUE(first_messages_acknowledged(clients, a, room));

  Traffic traffic(2, 30ms, [&](std::size_t r, int n) {
    writers[r]->send(chat_message(room(r), w(r), "steady", message_id(w(r), n)));
  });
  std::vector<chat::Ack> acks;
  const auto last_seen = kill_under_traffic(*proxy, clients, a, room, traffic, acks);

  // The same proxy again, on the same port; its clients come back to it,
  // join with since and resend what was in flight.
  proxy->start();
  ASSERT_EQ(proxy->port("ws-proxy"), proxy_port);
  const auto back = rejoin_and_resend_all(*proxy, a, room, last_seen, io);
  ASSERT_TRUE(traffic.stop_after(3));
  // A last message per room: whoever has it has everything before it.
  for (std::size_t r = 0; r < 2; ++r) writers[r]->send(chat_message(room(r), w(r), "last", "end-" + room(r)));
  for (std::size_t i = 0; i < kClients; ++i) {
    ASSERT_TRUE(back[i]->wait_for(is_message_id("end-" + room(i)), kPatience)) << a(i);
  }

  for (std::size_t r = 0; r < 2; ++r) {
    ASSERT_TRUE(writers[r]->wait_for(is_message_id("end-" + room(r)), kPatience)) << w(r);
    add_acks(acks, writers[r]->events());
  }
  for (std::size_t i = 0; i < kClients; ++i) {
    // The writer of the room was there all along: it saw the whole room.
    const auto whole = sequences_in(writers[i % 2]->events(), room(i));
    ASSERT_EQ(whole, range(1, whole.size())) << w(i % 2);
    // Replay, then live: the rest of the room after what was seen, each once, in order.
    EXPECT_EQ(sequences_in(back[i]->events(), room(i)), range(last_seen[i] + 1, whole.size())) << a(i);
    // The message in flight at the kill reached its sender once: before the
    // kill, in the replay or after the resend.
    EXPECT_EQ(back[i]->events_matching(is_message_id(message_id(a(i), 1))).size() +
                  clients[i]->events_matching(is_message_id(message_id(a(i), 1))).size(),
              1U)
        << a(i);
    add_acks(acks, back[i]->events());
  }
  EXPECT_TRUE(rooms_hold_each_ack_once(port, {"r0", "r1"}, acks));
}

// ---------------------------------------------------------------------------
// A resend after a reconnect

TEST_F(FaultTest, AResendAfterAReconnectIsAcknowledgedAsADuplicateOfTheOriginalAndNotStoredAgain) {
  const auto port = free_tcp_port();
  auto host = chat_host(dir_.path(), "host", {"grpc-chat", "ws-proxy"}, chat_table(port) + "\n" + proxy_table(port));
  auto io = std::make_shared<WsIo>(1);
  auto bob = ws_member(*host, "bob", "r", io);
  std::vector<chat::Ack> acks;

  // Over WebSocket: the connection drops after the ack, the client cannot
  // know whether it arrived, so it sends again on its next connection.
  const auto hello = chat_message("r", "alice", "hello once", "m1");
  auto alice = ws_member(*host, "alice", "r", io);
  alice->send(hello);
  const auto original = alice->wait_for(is_ack_for("m1"), kPatience);
  ASSERT_TRUE(original);
  EXPECT_FALSE(original->ack().duplicate());
  alice.reset();  // the socket closes without a close frame
  alice = ws_member(*host, "alice", "r", io);
  alice->send(resend(hello));
  const auto again = alice->wait_for(is_ack_for("m1"), kPatience);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->ack().duplicate());
  EXPECT_EQ(again->ack().sequence(), original->ack().sequence());
  EXPECT_EQ(again->ack().server_id(), original->ack().server_id());
  EXPECT_EQ(again->ack().timestamp().seconds(), original->ack().timestamp().seconds());
  // A resend of something that never arrived is simply stored.
  alice->send(resend(chat_message("r", "alice", "lost on the way", "m2")));
  const auto lost = alice->wait_for(is_ack_for("m2"), kPatience);
  ASSERT_TRUE(lost);
  EXPECT_FALSE(lost->ack().duplicate());

  // Over gRPC, a new stream after the first one ended.
  const auto from_grpc = chat_message("r", "carol", "over gRPC", "g1");
  std::uint64_t g1_sequence = 0;
  {
    ChatStreamClient carol(chat_channel("127.0.0.1", port), test_service_token());
    carol.send(join("r", "carol"));
    carol.send(from_grpc);
    const auto ack = carol.wait_for(is_ack_for("g1"), kPatience);
    ASSERT_TRUE(ack);
    g1_sequence = ack->ack().sequence();
    acks.push_back(ack->ack());
  }
  ChatStreamClient carol(chat_channel("127.0.0.1", port), test_service_token());
  carol.send(join("r", "carol"));
  carol.send(resend(from_grpc));
  const auto duplicate = carol.wait_for(is_ack_for("g1"), kPatience);
  ASSERT_TRUE(duplicate);
  EXPECT_TRUE(duplicate->ack().duplicate());
  EXPECT_EQ(duplicate->ack().sequence(), g1_sequence);

  // Bob, in the room all along, saw each message once.
  alice->send(chat_message("r", "alice", "the end", "m3"));
  ASSERT_TRUE(bob->wait_for(is_message_id("m3"), kPatience));
  const auto at_bob = bob->events_matching([](const ChatStream& e) { return e.has_chat_message(); });
  ASSERT_EQ(at_bob.size(), 4U);
  EXPECT_EQ(sequences_in(at_bob, "r"), range(1, 4));
  EXPECT_EQ(at_bob[0].chat_message().id(), "m1");
  EXPECT_EQ(at_bob[1].chat_message().id(), "m2");
  EXPECT_EQ(at_bob[2].chat_message().id(), "g1");

  add_acks(acks, alice->events());
  add_acks(acks, carol.events());
  acks.push_back(original->ack());
  const auto stored = stored_messages(port, "r");
  EXPECT_EQ(stored.size(), 4U);
  EXPECT_TRUE(holds_each_ack_once(stored, "r", acks));
}

// ---------------------------------------------------------------------------
// The chat service unreachable at proxy start, then flapping under load

TEST_F(FaultTest, ChatServiceDownAtProxyStartThenFlappingUnderLoadIsToldEachTimeAndNothingArrivesOutOfOrder) {
  constexpr std::size_t kClients = 6;
  constexpr int kFlaps = 3;
  const auto port = free_tcp_port();
  auto proxy = chat_host(dir_.path(), "proxy", {"ws-proxy"}, proxy_table(port));
  const auto user = [](std::size_t i) { return "f" + std::to_string(i); };
  const auto room = [](std::size_t i) { return "r" + std::to_string(i % 2); };
  auto io = std::make_shared<WsIo>(2);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<WsClient>(ws_to(*proxy, "/?user=" + user(i) + "&room=" + room(i)), io));
    ASSERT_TRUE(clients[i]->wait_for(is_service_status(false), kPatience)) << user(i);
  }
  const auto marks = [&] {
    std::vector<std::size_t> out;
    for (const auto& client : clients) out.push_back(client->size());
    return out;
  };
  // Each client was told the status, again, after `mark`.
  const auto all_told = [&](bool available, const std::vector<std::size_t>& mark) {
    for (std::size_t i = 0; i < kClients; ++i) {
      if (!clients[i]->wait_for(is_service_status(available), kPatience, mark[i])) {
        return ::testing::AssertionFailure() << user(i) << " was not told available=" << available << ":\n"
                                             << proxy->process().output();
      }
    }
    return ::testing::AssertionSuccess();
  };

  Traffic traffic(kClients, 50ms, [&](std::size_t i, int n) {
    clients[i]->send(chat_message(room(i), user(i), "flap", message_id(user(i), n)));
  });
  ASSERT_TRUE(traffic.wait_rounds(3));
  for (std::size_t i = 0; i < kClients; ++i) {
    EXPECT_TRUE(clients[i]->wait_for(is_error_code(Error::UNAVAILABLE), kPatience)) << user(i) << ": not refused";
  }
  auto mark = marks();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port, dir_ / "chat.db"));
  for (int flap = 0;; ++flap) {
    ASSERT_TRUE(all_told(true, mark));
    ASSERT_TRUE(traffic.wait_rounds(10));
    if (flap == kFlaps) break;
    mark = marks();
    if (flap % 2 == 0) {
      service->kill();
    } else {
      ASSERT_EQ(service->stop(), 0) << service->process().output();
    }
    ASSERT_TRUE(all_told(false, mark));
    ASSERT_TRUE(traffic.wait_rounds(3));
    mark = marks();
    service->start();
  }
  traffic.stop();
  EXPECT_TRUE(proxy->process().running()) << proxy->process().output();

  // Every message got exactly one answer: an ack, or UNAVAILABLE.
  std::vector<chat::Ack> acks;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i]->wait_for(is_answer_to(message_id(user(i), traffic.sent(i) - 1)), kPatience)) << user(i);
    const auto events = clients[i]->events();
    for (int n = 0; n < traffic.sent(i); ++n) {
      const auto answers = std::count_if(events.begin(), events.end(), is_answer_to(message_id(user(i), n)));
      EXPECT_EQ(answers, 1) << message_id(user(i), n);
    }
    for (const auto& e : events) {
      if (!e.has_error()) continue;
      EXPECT_EQ(e.error().code(), Error::UNAVAILABLE) << e.DebugString();
      ++refused;
    }
    add_acks(acks, events);
  }
  EXPECT_GT(refused, 0U);
  EXPECT_GT(acks.size(), 0U);

  // A last message per room: whoever has it has everything before it, in
  // sequence order without a gap since it joined.
  for (std::size_t r = 0; r < 2; ++r) clients[r]->send(chat_message(room(r), user(r), "last", "end-" + room(r)));
  for (std::size_t i = 0; i < kClients; ++i) {
    ASSERT_TRUE(clients[i]->wait_for(is_message_id("end-" + room(i)), kPatience)) << user(i);
    const auto seen = sequences_in(clients[i]->events(), room(i));
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen, range(seen.front(), seen.back())) << user(i);
  }
  EXPECT_TRUE(rooms_hold_each_ack_once(port, {"r0", "r1"}, acks));
}

// ---------------------------------------------------------------------------
// SIGTERM of a proxy host under load

TEST_F(FaultTest, ProxyStoppedUnderLoadClosesEveryClientWithGoingAwayInTimeAndLosesNothingAcknowledged) {
  constexpr std::size_t kClients = 8;
  const auto port = free_tcp_port();
  auto service = chat_host(dir_.path(), "service", {"grpc-chat"}, chat_table(port));
  auto proxy = chat_host(dir_.path(), "proxy", {"ws-proxy"}, proxy_table(port));
  const auto user = [](std::size_t i) { return "s" + std::to_string(i); };
  const auto room = [](std::size_t i) { return "r" + std::to_string(i % 2); };
  auto io = std::make_shared<WsIo>(2);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (std::size_t i = 0; i < kClients; ++i) clients.push_back(ws_member(*proxy, user(i), room(i), io));

  Traffic traffic(kClients, 20ms, [&](std::size_t i, int n) {
    clients[i]->send(chat_message(room(i), user(i), "busy", message_id(user(i), n)));
  });
  ASSERT_TRUE(traffic.wait_rounds(10));
  // Exit code 0: stopped within [host] stop_timeout_ms, past which the host
  // exits with 1.
  EXPECT_EQ(proxy->stop(), 0) << proxy->process().output();
  traffic.stop();

  std::vector<chat::Ack> acks;
  for (std::size_t i = 0; i < kClients; ++i) {
    const auto closed = clients[i]->wait_closed(kPatience);
    ASSERT_TRUE(closed) << user(i);
    EXPECT_EQ(closed->code, 1001) << user(i) << ": " << closed->error;
    EXPECT_FALSE(closed->reason.empty()) << user(i);
    const auto events = clients[i]->events();
    const auto seen = sequences_in(events, room(i));
    EXPECT_EQ(seen, range(1, seen.size())) << user(i);
    EXPECT_FALSE(acks_in(events).empty()) << user(i);
    add_acks(acks, events);
  }
  EXPECT_TRUE(rooms_hold_each_ack_once(port, {"r0", "r1"}, acks));
}

}  // namespace
}  // namespace chathost::test
