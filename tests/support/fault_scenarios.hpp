// What the fault tests share: hosts with a stop timeout, quick keepalive
// settings, steady traffic from many clients, and checks of what clients saw
// against what the store holds (every ack once, no gap).
#pragma once

#include "chat.grpc.pb.h"  // from chat_proto
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace chathost::test {

using chat::ChatMessage;
using chat::ChatStream;
using chat::Error;

// Long enough for a sanitizer build on a loaded machine.
inline constexpr auto kPatience = 30s;

// Keepalive pings every second, given up after another: a peer that stops
// answering is found out within seconds instead of the production 40.
inline constexpr const char* kQuickServerKeepalive =
    "keepalive_time_ms = 1000\nkeepalive_timeout_ms = 1000\nmin_client_ping_interval_ms = 500\n";
inline constexpr const char* kQuickChannelKeepalive = "chat_keepalive_time_ms = 1000\nchat_keepalive_timeout_ms = 1000\n";

// One chat-host process running `plugins` from `tables`, with a stop
// timeout: a stop that takes longer ends with exit code 1. `file_size_limit`:
// a disk that is full for this process alone (ProcessOptions).
inline std::unique_ptr<TestHost> chat_host(const std::filesystem::path& dir, const std::string& name,
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

inline std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// The sequences of `room`'s chat messages among `events`, as they arrived.
inline std::vector<std::uint64_t> sequences_in(const std::vector<ChatStream>& events, const std::string& room) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) {
    if (e.has_chat_message() && e.chat_message().room_id() == room) out.push_back(e.chat_message().sequence());
  }
  return out;
}

// Appends the acks among `events` to `acks`.
inline void add_acks(std::vector<chat::Ack>& acks, const std::vector<ChatStream>& events) {
  for (const auto& e : events) {
    if (e.has_ack()) acks.push_back(e.ack());
  }
}

inline std::vector<chat::Ack> acks_in(const std::vector<ChatStream>& events) {
  std::vector<chat::Ack> out;
  add_acks(out, events);
  return out;
}

inline EventPredicate is_answer_to(const std::string& id) {
  return [id](const ChatStream& e) {
    return (e.has_ack() && e.ack().id() == id) || (e.has_error() && e.error().id() == id);
  };
}

inline chat::ChatStream resend(chat::ChatStream frame) {
  frame.mutable_chat_message()->set_resend(true);
  return frame;
}

// Every stored message of `room`, oldest first, read from grpc-chat at `port`.
inline std::vector<ChatMessage> stored_messages(std::uint16_t port, const std::string& room) {
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
inline ::testing::AssertionResult holds_each_ack_once(const std::vector<ChatMessage>& history, const std::string& room,
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
inline ::testing::AssertionResult rooms_hold_each_ack_once(std::uint16_t port, const std::vector<std::string>& rooms,
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
  // wait_rounds(more), then stop(); false when the rounds did not come.
  bool stop_after(int more) {
    const bool done = wait_rounds(more);
    stop();
    return done;
  }
  // After stop(): how many messages `sender` sent, its rounds 0 .. sent - 1.
  int sent(std::size_t sender) const { return sent_.at(sender); }

 private:
  std::vector<int> sent_;  // written by the thread only
  std::atomic<bool> stopping_{false};
  std::atomic<int> rounds_{0};
  std::thread thread_;
};

inline std::string message_id(const std::string& user, int n) { return user + "-" + std::to_string(n); }

// A WebSocket client joined to `room` as `user` through the query string.
inline std::unique_ptr<WsClient> ws_member(const TestHost& proxy, const std::string& user, const std::string& room,
                                    const std::shared_ptr<WsIo>& io) {
  auto client = std::make_unique<WsClient>(ws_to(proxy, "/?user=" + user + "&room=" + room), io);
  if (!client->wait_for(is_joined(room), kPatience)) throw std::runtime_error(user + " got no joined for " + room);
  return client;
}

// The WebSocket clients of one proxy: client i is user(i), a member of room(i).
using ClientName = std::function<std::string(std::size_t)>;

// Each of `clients` sends its first message ("before", message_id(user, 0))
// and has it acknowledged.
inline ::testing::AssertionResult first_messages_acknowledged(const std::vector<std::unique_ptr<WsClient>>& clients,
                                                              const ClientName& user, const ClientName& room) {
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i]->send(chat_message(room(i), user(i), "before", message_id(user(i), 0)));
    if (!clients[i]->wait_for(is_ack_for(message_id(user(i), 0)), kPatience)) {
      return ::testing::AssertionFailure() << user(i) << " got no ack for its first message";
    }
  }
  return ::testing::AssertionSuccess();
}

// `proxy` killed while `traffic` runs (5 rounds before, 5 after) and each of
// its `clients` has a message on its way (message_id(user, 1), "in flight":
// stored or not, nobody knows; rejoin_and_resend sends it again). Each
// client is then closed without a close frame (a killed process sends none)
// and had seen its room without a gap. Adds the clients' acks to `acks` and
// returns the last sequence each saw.
inline std::vector<std::uint64_t> kill_under_traffic(TestHost& proxy, const std::vector<std::unique_ptr<WsClient>>& clients,
                                                     const ClientName& user, const ClientName& room, Traffic& traffic,
                                                     std::vector<chat::Ack>& acks) {
  if (!traffic.wait_rounds(5)) throw std::runtime_error("the traffic stalled before the kill");
  for (std::size_t i = 0; i < clients.size(); ++i) {
    clients[i]->send(chat_message(room(i), user(i), "in flight", message_id(user(i), 1)));
  }
  proxy.kill();
  std::vector<std::uint64_t> last_seen;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto closed = clients[i]->wait_closed(kPatience);
    if (!closed) throw std::runtime_error(user(i) + " was not closed after the kill");
    EXPECT_FALSE(closed->code) << user(i) << ": a close frame from a killed process";
    const auto events = clients[i]->events();
    const auto seen = sequences_in(events, room(i));
    EXPECT_EQ(seen, range(1, seen.size())) << user(i);
    last_seen.push_back(seen.size());
    add_acks(acks, events);
  }
  if (!traffic.wait_rounds(5)) throw std::runtime_error("the traffic stalled after the kill");  // what the clients miss
  return last_seen;
}

// A client of a killed proxy, back through `proxy`: it joins `room` with
// since = the last sequence it saw, expecting no history gap, and sends the
// message it had in flight (message_id(user, 1)) again with resend, which
// must be acknowledged.
inline std::unique_ptr<WsClient> rejoin_and_resend(TestHost& proxy, const std::string& user, const std::string& room,
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

// rejoin_and_resend for each client of a killed proxy (user(i) in room(i),
// having seen up to last_seen[i]), through `proxy`.
inline std::vector<std::unique_ptr<WsClient>> rejoin_and_resend_all(TestHost& proxy, const ClientName& user,
                                                                  const ClientName& room,
                                                                  const std::vector<std::uint64_t>& last_seen,
                                                                  const std::shared_ptr<WsIo>& io) {
  std::vector<std::unique_ptr<WsClient>> clients;
  for (std::size_t i = 0; i < last_seen.size(); ++i) {
    clients.push_back(rejoin_and_resend(proxy, user(i), room(i), last_seen[i], io));
  }
  return clients;
}

class FaultTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

}  // namespace chathost::test
