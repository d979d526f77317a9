// history-http's copy of recent messages (recent_history.hpp) through real
// hosts: it is never stale. A message acknowledged before a request is in
// that request's answer, read at once after the ack, many times, through two
// history-http hosts beside one chat service; and the copy, not the chat
// service, answered most of them. The same across two chat nodes on
// PostgreSQL is in chat_nodes_test.cpp.
#include "support/config_tables.hpp"
#include "support/history_hosts.hpp"

#include <gtest/gtest.h>

namespace chathost::test {
namespace {

// Reads room r until an answer comes from the copy again (its watch stream
// made anew), each answer holding exactly `expected`.
void expect_current_until_the_copy_answers_again(std::uint16_t port, double copied,
                                                 const std::vector<std::string>& expected) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (pages_from_copy(port) == copied && std::chrono::steady_clock::now() < deadline) {
    EXPECT_EQ(sequences(body_json(get(port, "/history?room=r"))), expected);
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_GT(pages_from_copy(port), copied) << "the copy was not used again";
}

TEST_F(HistoryHttpTest, AMessageAcknowledgedBeforeARequestIsInItsAnswerThroughEveryHistoryHost) {
  const auto chat_port = free_tcp_port();
  TestHost chat(dir_.path(), {.name = "chat", .plugins = {"grpc-chat"}, .tables = chat_table(chat_port)});
  auto first = http_host(dir_.path(), {.chat_port = chat_port, .extra_config = service_token_key()});
  auto second = http_host(dir_.path(), {.chat_port = chat_port, .extra_config = service_token_key()});
  HttpConnection to_first(first->port("history-http"));
  HttpConnection to_second(second->port("history-http"));

  ChatStreamClient alice(chat_channel("127.0.0.1", chat_port), test_service_token());
  join_room(alice, "busy", "alice");
  constexpr int kMessages = 300;
  for (int i = 1; i <= kMessages; ++i) {
    // At once after each ack, from either host.
    const auto page = send_then_read_at_once(alice, "busy", "alice", "m" + std::to_string(i),
                                             i % 2 == 0 ? to_first : to_second, "/history?room=busy&limit=10");
    ASSERT_FALSE(page.empty());
    EXPECT_EQ(page.at("messages").as_array().size(), std::min<std::size_t>(10, static_cast<std::size_t>(i)));
  }
  // Else this tested the chat service's reads, not the copy: all but the
  // first request of each host (which loads the room) come from the copy.
  EXPECT_GE(pages_from_copy(first->port("history-http")), kMessages / 2 - 2);
  EXPECT_GE(pages_from_copy(second->port("history-http")), kMessages / 2 - 2);
}

TEST_F(HistoryHttpTest, WhileTheChatServiceIsAwayNothingIsAnsweredFromTheCopy) {
  const auto chat_port = free_tcp_port();
  auto chat = std::make_unique<TestHost>(
      dir_.path(), TestHostOptions{.name = "chat",
                                   .plugins = {"grpc-chat"},
                                   .tables = chat_table(chat_port, dir_.path() / "chat.db")});
  auto http = http_host(dir_.path(), {.chat_port = chat_port, .extra_config = service_token_key()});
  const auto port = http->port("history-http");
  {
    ChatStreamClient alice(chat_channel("127.0.0.1", chat_port), test_service_token());
    join_room(alice, "r", "alice");
    send_acked(alice, "r", "alice", {{"a", "one"}, {"b", "two"}});
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(get(port, "/history?room=r").result_int(), 200U);
  const double copied = pages_from_copy(port);
  EXPECT_GE(copied, 1);

  chat.reset();  // stopped: the copy can vouch for nothing
  EXPECT_EQ(get(port, "/history?room=r").result_int(), 503U);
  EXPECT_EQ(pages_from_copy(port), copied);

  // Back, with a message stored while history-http could not see it.
  chat = std::make_unique<TestHost>(
      dir_.path(), TestHostOptions{.name = "chat",
                                   .plugins = {"grpc-chat"},
                                   .tables = chat_table(chat_port, dir_.path() / "chat.db")});
  {
    ChatStreamClient bob(chat_channel("127.0.0.1", chat_port), test_service_token());
    join_room(bob, "r", "bob");
    send_acked(bob, "r", "bob", {{"c", "three"}});
  }
  ASSERT_TRUE(wait_for_status(port, "/history?room=r", 200));
  // Every answer is current, from the chat service until the watch stream
  // is made again, then from the copy.
  expect_current_until_the_copy_answers_again(port, copied, range(1, 3));
  EXPECT_EQ(sequences(body_json(get(port, "/history?room=r"))), range(1, 3));
}

TEST_F(HistoryHttpTest, AFrozenChatServiceIsAnsweredUnavailableNotWaitedForAndTheCopyComesBackWhenItThaws) {
  const auto chat_port = free_tcp_port();
  TestHost chat(dir_.path(), {.name = "chat", .plugins = {"grpc-chat"}, .tables = chat_table(chat_port)});
  auto http = http_host(dir_.path(),
                        {.chat_port = chat_port, .upstream_deadline_ms = 1000, .extra_config = service_token_key()});
  const auto port = http->port("history-http");
  ChatStreamClient alice(chat_channel("127.0.0.1", chat_port), test_service_token());
  join_room(alice, "r", "alice");
  send_acked(alice, "r", "alice", {{"a", "one"}, {"b", "two"}});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(sequences(body_json(get(port, "/history?room=r"))), range(1, 2));
  const double copied = pages_from_copy(port);
  ASSERT_GE(copied, 1);

  {
    // Its connections stay up and nothing answers: the watch gives up after
    // upstream_deadline_ms (1 s), and so does the read that follows; only
    // the stream's keepalive would find the service out, tens of seconds on.
    Frozen frozen(chat);
    const auto asked = std::chrono::steady_clock::now();
    const auto response = get(port, "/history?room=r");
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 8s) << "the request waited past the deadlines";
    EXPECT_EQ(response.result_int(), 503U) << response.body();
    EXPECT_EQ(header(response, http::field::retry_after), "2");
  }
  ASSERT_TRUE(wait_for_status(port, "/history?room=r", 200));
  expect_current_until_the_copy_answers_again(port, copied, range(1, 2));
}

}  // namespace
}  // namespace chathost::test
