// Faults with real host processes on loopback: the chat service killed while
// a hundred clients send, a proxy killed (its clients moving to another one,
// or back to it restarted) or stopped under load, resends after a reconnect,
// the chat service unreachable and flapping, a store that cannot write or
// cannot be opened, a host frozen (SIGSTOP) until keepalive gives it up. Each
// test asserts what clients see and what the store holds after.
//
// No timing assertions: load runs until enough has happened, waits are
// generous. The one exception is keepalive's point: a frozen host is found
// out within 15 s (with pings every second), where without keepalive it
// never is.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
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

// Long enough for a sanitizer build on a loaded machine.
constexpr auto kPatience = 30s;

// Keepalive pings every second, given up after another: a peer that stops
// answering is found out within seconds instead of the production 40.
constexpr const char* kQuickServerKeepalive =
    "keepalive_time_ms = 1000\nkeepalive_timeout_ms = 1000\nmin_client_ping_interval_ms = 500\n";
constexpr const char* kQuickChannelKeepalive = "chat_keepalive_time_ms = 1000\nchat_keepalive_timeout_ms = 1000\n";

// One chat-host process running `plugins` from `tables`, with a stop
// timeout: a stop that takes longer ends with exit code 1. `file_size_limit`:
// a disk that is full for this process alone (ProcessOptions).
std::unique_ptr<TestHost> chat_host(const std::filesystem::path& dir, const std::string& name,
                                    std::vector<std::string> plugins, const std::string& tables,
                                    std::optional<std::uint64_t> file_size_limit = {}) {
  return std::make_unique<TestHost>(dir, TestHostOptions{.name = name,
                                                         .plugins = std::move(plugins),
                                                         .tables = tables,
                                                         .host_keys = "stop_timeout_ms = 8000\n",
                                                         .file_size_limit = file_size_limit});
}

// ---------------------------------------------------------------------------
// What clients saw, and what the store holds

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// The sequences of `room`'s chat messages among `events`, as they arrived.
std::vector<std::uint64_t> sequences_in(const std::vector<ChatStream>& events, const std::string& room) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) {
    if (e.has_chat_message() && e.chat_message().room_id() == room) out.push_back(e.chat_message().sequence());
  }
  return out;
}

// Appends the acks among `events` to `acks`.
void add_acks(std::vector<chat::Ack>& acks, const std::vector<ChatStream>& events) {
  for (const auto& e : events) {
    if (e.has_ack()) acks.push_back(e.ack());
  }
}

std::vector<chat::Ack> acks_in(const std::vector<ChatStream>& events) {
  std::vector<chat::Ack> out;
  add_acks(out, events);
  return out;
}

EventPredicate is_answer_to(const std::string& id) {
  return [id](const ChatStream& e) {
    return (e.has_ack() && e.ack().id() == id) || (e.has_error() && e.error().id() == id);
  };
}

chat::ChatStream resend(chat::ChatStream frame) {
  frame.mutable_chat_message()->set_resend(true);
  return frame;
}

// Every stored message of `room`, oldest first, read from grpc-chat at `port`.
std::vector<ChatMessage> stored_messages(std::uint16_t port, const std::string& room) {
  auto stub = chat::ChatService::NewStub(chat_channel("127.0.0.1", port));
  std::vector<ChatMessage> out;
  for (;;) {
    chat::GetChatHistoryRequest request;
    request.set_room_id(room);
    request.set_limit(1000);
    request.set_after(out.empty() ? 0 : out.back().sequence());
    chat::GetChatHistoryResponse response;
    auto context = call_context(test_service_token(), kPatience);
    context->set_wait_for_ready(true);
    const auto status = stub->GetChatHistory(context.get(), request, &response);
    if (!status.ok()) throw std::runtime_error("GetChatHistory " + room + ": " + status.error_message());
    out.insert(out.end(), response.messages().begin(), response.messages().end());
    if (!response.has_more()) return out;
  }
}

// A room's history is whole: sequences 1..N without a gap, no (sender, id)
// stored twice, and each acknowledged message of the room there once, under
// the sequence its ack named.
::testing::AssertionResult holds_each_ack_once(const std::vector<ChatMessage>& history, const std::string& room,
                                               const std::vector<chat::Ack>& acks) {
  std::vector<std::uint64_t> sequences;
  std::map<std::pair<std::string, std::string>, std::uint64_t> by_id;  // (sender, id) -> sequence
  for (const auto& m : history) {
    sequences.push_back(m.sequence());
    if (!by_id.emplace(std::pair(m.sender_id(), m.id()), m.sequence()).second) {
      return ::testing::AssertionFailure() << room << ": " << m.sender_id() << "'s " << m.id() << " stored twice";
    }
  }
  if (sequences != range(1, sequences.size())) {
    return ::testing::AssertionFailure() << room << ": sequences with a gap, " << sequences.size() << " messages up to "
                                         << (sequences.empty() ? 0 : sequences.back());
  }
  for (const auto& ack : acks) {
    if (ack.room_id() != room) continue;
    const auto found = by_id.find({ack.sender_id(), ack.id()});
    if (found == by_id.end()) {
      return ::testing::AssertionFailure() << room << ": acknowledged " << ack.sender_id() << "'s " << ack.id()
                                           << " (sequence " << ack.sequence() << ") is not stored";
    }
    if (found->second != ack.sequence()) {
      return ::testing::AssertionFailure() << room << ": " << ack.id() << " acknowledged as " << ack.sequence()
                                           << ", stored as " << found->second;
    }
  }
  return ::testing::AssertionSuccess();
}

// holds_each_ack_once for each of `rooms`, as stored by grpc-chat at `port`.
::testing::AssertionResult rooms_hold_each_ack_once(std::uint16_t port, const std::vector<std::string>& rooms,
                                                    const std::vector<chat::Ack>& acks) {
  for (const auto& room : rooms) {
    if (auto whole = holds_each_ack_once(stored_messages(port, room), room, acks); !whole) return whole;
  }
  return ::testing::AssertionSuccess();
}

// Steady load: every `interval`, send(sender, n) for each sender, round n
// counting from 0, until stopped (or `max_rounds`).
class Traffic {
 public:
  using Send = std::function<void(std::size_t sender, int round)>;
  Traffic(std::size_t senders, std::chrono::milliseconds interval, Send send, int max_rounds = 1 << 30)
      : sent_(senders, 0), thread_([=, this] {
          for (int round = 0; round < max_rounds && !stopping_; ++round) {
            for (std::size_t sender = 0; sender < senders && !stopping_; ++sender) {
              send(sender, round);
              ++sent_[sender];
            }
            rounds_ = round + 1;
            std::this_thread::sleep_for(interval);
          }
        }) {}
  ~Traffic() { stop(); }
  Traffic(const Traffic&) = delete;
  Traffic& operator=(const Traffic&) = delete;

  // Rounds completed: each sender has sent that many messages.
  int rounds() const { return rounds_; }
  // Waits until `more` rounds beyond now are done.
  bool wait_rounds(int more) {
    const int target = rounds_ + more;
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (rounds_ < target) {
      if (std::chrono::steady_clock::now() > deadline || stopping_) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // After stop(): how many messages `sender` sent, its rounds 0 .. sent - 1.
  int sent(std::size_t sender) const { return sent_.at(sender); }

 private:
  std::vector<int> sent_;  // written by the thread only
  std::atomic<bool> stopping_{false};
  std::atomic<int> rounds_{0};
  std::thread thread_;
};

std::string message_id(const std::string& user, int n) { return user + "-" + std::to_string(n); }

// A WebSocket client joined to `room` as `user` through the query string.
std::unique_ptr<WsClient> ws_member(const TestHost& proxy, const std::string& user, const std::string& room,
                                    const std::shared_ptr<WsIo>& io) {
  auto client = std::make_unique<WsClient>(ws_to(proxy, "/?user=" + user + "&room=" + room), io);
  if (!client->wait_for(is_joined(room), kPatience)) throw std::runtime_error(user + " got no joined for " + room);
  return client;
}

// A client of a killed proxy, back through `proxy`: it joins `room` with
// since = the last sequence it saw, expecting no history gap, and sends the
// message it had in flight (message_id(user, 1)) again with resend, which
// must be acknowledged.
std::unique_ptr<WsClient> rejoin_and_resend(TestHost& proxy, const std::string& user, const std::string& room,
                                            std::uint64_t last_seen, const std::shared_ptr<WsIo>& io) {
  auto client = std::make_unique<WsClient>(ws_to(proxy, "/?user=" + user), io);
  client->send(join(room, user, last_seen));
  auto joined = client->wait_for(is_joined(room), kPatience);
  if (!joined) throw std::runtime_error(user + " got no joined for " + room + "\n" + proxy.process().output());
  EXPECT_FALSE(joined->joined().history_gap()) << user;
  client->send(resend(chat_message(room, user, "in flight", message_id(user, 1))));
  if (!client->wait_for(is_ack_for(message_id(user, 1)), kPatience)) {
    throw std::runtime_error(user + " got no ack for the message it sent again");
  }
  return client;
}

class FaultTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

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
  for (std::size_t i = 0; i < kPerProxy; ++i) {
    moving[i]->send(chat_message(room(i), a(i), "before", message_id(a(i), 0)));
    ASSERT_TRUE(moving[i]->wait_for(is_ack_for(message_id(a(i), 0)), kPatience));
  }

  Traffic traffic(kPerProxy, 30ms, [&](std::size_t i, int n) {
    staying[i]->send(chat_message(room(i), b(i), "steady", message_id(b(i), n)));
  });
  ASSERT_TRUE(traffic.wait_rounds(5));
  // A message each on its way when the proxy dies: stored or not, nobody knows.
  for (std::size_t i = 0; i < kPerProxy; ++i) {
    moving[i]->send(chat_message(room(i), a(i), "in flight", message_id(a(i), 1)));
  }
  doomed->kill();
  std::vector<chat::Ack> acks;
  std::vector<std::uint64_t> last_seen;
  for (std::size_t i = 0; i < kPerProxy; ++i) {
    ASSERT_TRUE(moving[i]->wait_closed(kPatience));
    const auto events = moving[i]->events();
    const auto seen = sequences_in(events, room(i));
    EXPECT_EQ(seen, range(1, seen.size())) << a(i);
    last_seen.push_back(seen.size());
    add_acks(acks, events);
  }
  ASSERT_TRUE(traffic.wait_rounds(5));  // what the moving clients miss

  // They come back on the other proxy: join with since, resend what was in flight.
  std::vector<std::unique_ptr<WsClient>> back;
  for (std::size_t i = 0; i < kPerProxy; ++i) back.push_back(rejoin_and_resend(*steady, a(i), room(i), last_seen[i], io));
  ASSERT_TRUE(traffic.wait_rounds(3));
  traffic.stop();
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
  for (std::size_t i = 0; i < kClients; ++i) {
    clients[i]->send(chat_message(room(i), a(i), "before", message_id(a(i), 0)));
    ASSERT_TRUE(clients[i]->wait_for(is_ack_for(message_id(a(i), 0)), kPatience));
  }

  Traffic traffic(2, 30ms, [&](std::size_t r, int n) {
    writers[r]->send(chat_message(room(r), w(r), "steady", message_id(w(r), n)));
  });
  ASSERT_TRUE(traffic.wait_rounds(5));
  // A message each on its way when the proxy dies: stored or not, nobody knows.
  for (std::size_t i = 0; i < kClients; ++i) {
    clients[i]->send(chat_message(room(i), a(i), "in flight", message_id(a(i), 1)));
  }
  proxy->kill();
  std::vector<chat::Ack> acks;
  std::vector<std::uint64_t> last_seen;
  for (std::size_t i = 0; i < kClients; ++i) {
    const auto closed = clients[i]->wait_closed(kPatience);
    ASSERT_TRUE(closed) << a(i);
    EXPECT_FALSE(closed->code) << a(i) << ": a close frame from a killed process";
    const auto events = clients[i]->events();
    const auto seen = sequences_in(events, room(i));
    EXPECT_EQ(seen, range(1, seen.size())) << a(i);
    last_seen.push_back(seen.size());
    add_acks(acks, events);
  }
  ASSERT_TRUE(traffic.wait_rounds(5));  // what the proxy's clients miss

  // The same proxy again, on the same port; its clients come back to it,
  // join with since and resend what was in flight.
  proxy->start();
  ASSERT_EQ(proxy->port("ws-proxy"), proxy_port);
  std::vector<std::unique_ptr<WsClient>> back;
  for (std::size_t i = 0; i < kClients; ++i) back.push_back(rejoin_and_resend(*proxy, a(i), room(i), last_seen[i], io));
  ASSERT_TRUE(traffic.wait_rounds(3));
  traffic.stop();
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
