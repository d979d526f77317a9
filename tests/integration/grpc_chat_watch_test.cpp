// grpc-chat's watches (chat.Watch): a bridge's stream gets a room's messages
// as no user, and each Watch is answered only after every message of the
// room stored before it; only bridges may watch.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"

#include <gtest/gtest.h>

namespace chathost::test {
namespace {

using chat::ChatStream;
using chat::Error;

ChatStream watch(const std::string& room, std::uint64_t token) {
  ChatStream frame;
  frame.mutable_watch()->set_room_id(room);
  frame.mutable_watch()->set_token(token);
  return frame;
}

ChatStream unwatch(const std::string& room) {
  ChatStream frame;
  frame.mutable_unwatch()->set_room_id(room);
  return frame;
}

EventPredicate is_watching(std::uint64_t token) {
  return [token](const ChatStream& e) { return e.has_watching() && e.watching().token() == token; };
}

// The events before the Watching of `token`, which must have come.
std::vector<ChatStream> events_before(const ChatStreamClient& client, std::uint64_t token) {
  std::vector<ChatStream> before;
  for (const auto& event : client.events()) {
    if (is_watching(token)(event)) return before;
    before.push_back(event);
  }
  ADD_FAILURE() << "no Watching " << token;
  return before;
}

class GrpcChatWatchTest : public ::testing::Test {
 protected:
  TempDir dir_;
  TestHost host_{dir_.path(), {.name = "host", .plugins = {"grpc-chat"}, .tables = grpc_chat_table(0, service_token_key())}};
  std::shared_ptr<grpc::Channel> channel() const { return chat_channel("127.0.0.1", host_.port("grpc-chat")); }
};

TEST_F(GrpcChatWatchTest, AWatcherGetsTheRoomsMessagesAsNoUserAndEachAnswerAfterWhatWasStoredBefore) {
  ChatStreamClient alice(channel(), test_service_token());
  alice.send(join("w", "alice"));
  ASSERT_TRUE(alice.wait_for(is_joined("w")));
  for (int i = 1; i <= 3; ++i) {
    alice.send(chat_message("w", "alice", "m" + std::to_string(i), "m" + std::to_string(i)));
    ASSERT_TRUE(alice.wait_for(is_ack_for("m" + std::to_string(i))));
  }

  ChatStreamClient watcher(channel(), test_service_token());
  watcher.send(watch("w", 7));
  const auto first = watcher.wait_for(is_watching(7));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->watching().room_id(), "w");
  EXPECT_EQ(first->watching().last_sequence(), 3U);
  EXPECT_EQ(first->watching().first_sequence(), 1U);
  EXPECT_TRUE(events_before(watcher, 7).empty()) << "what was stored before the watch is read, not sent";

  // A message stored after the watch comes, and the next answer after it.
  alice.send(chat_message("w", "alice", "m4", "m4"));
  ASSERT_TRUE(alice.wait_for(is_ack_for("m4")));
  watcher.send(watch("w", 8));
  const auto second = watcher.wait_for(is_watching(8));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->watching().last_sequence(), 4U);
  const auto before = events_before(watcher, 8);
  ASSERT_EQ(before.size(), 2U);  // Watching 7, then message 4
  ASSERT_TRUE(before[1].has_chat_message());
  EXPECT_EQ(before[1].chat_message().sequence(), 4U);

  // As no user: the room's members heard of nobody new.
  for (const auto& event : alice.events()) {
    if (event.has_presence() && event.presence().kind() == chat::Presence::JOINED) {
      EXPECT_EQ(event.presence().user_id(), "alice") << event.ShortDebugString();
    }
  }

  // Unwatched: message 5 does not come, though it was stored before the next answer.
  watcher.send(unwatch("w"));
  alice.send(chat_message("w", "alice", "m5", "m5"));
  ASSERT_TRUE(alice.wait_for(is_ack_for("m5")));
  watcher.send(watch("elsewhere", 9));
  ASSERT_TRUE(watcher.wait_for(is_watching(9)));
  for (const auto& event : events_before(watcher, 9)) {
    EXPECT_FALSE(event.has_chat_message() && event.chat_message().sequence() == 5U) << "came after the unwatch";
  }

  watcher.send(unwatch("w"));
  const auto not_watched = watcher.wait_for(is_error());
  ASSERT_TRUE(not_watched);
  EXPECT_EQ(not_watched->error().code(), Error::NOT_MEMBER);
  EXPECT_EQ(not_watched->error().frame(), "unwatch");
}

TEST_F(GrpcChatWatchTest, OnlyABridgeMayWatchAndARoomMustBeNamed) {
  // With no service token configured, a caller from outside the host is one
  // user's stream (with one configured, it would not get in at all).
  TestHost open(dir_.path(), {.name = "open", .plugins = {"grpc-chat"}, .tables = grpc_chat_table(0)});
  ChatStreamClient user(chat_channel("127.0.0.1", open.port("grpc-chat")));
  user.send(watch("w", 1));
  const auto refused = user.wait_for(is_error());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().code(), Error::NOT_ALLOWED);
  EXPECT_EQ(refused->error().frame(), "watch");
  EXPECT_EQ(refused->error().room_id(), "w");
  EXPECT_TRUE(user.events_matching(is_watching(1)).empty());

  ChatStreamClient bridge(channel(), test_service_token());
  bridge.send(watch("", 2));
  const auto unnamed = bridge.wait_for(is_error());
  ASSERT_TRUE(unnamed);
  EXPECT_EQ(unnamed->error().code(), Error::MISSING_FIELD);
  EXPECT_EQ(unnamed->error().frame(), "watch");
}

}  // namespace
}  // namespace chathost::test
