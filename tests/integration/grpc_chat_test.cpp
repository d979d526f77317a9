// grpc-chat through a real host process and real gRPC channels.
#include "health.grpc.pb.h"  // from chat_proto
#include "reflection.grpc.pb.h"
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/host_process.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_postgres.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace chathost::test {
namespace {

using chat::ChatStream;
using chat::Presence;

// A chat-host running grpc-chat alone, on a free port (tests/support's
// TestHost), with an admin of its own and its SQLite file in the test's folder.
class ChatHost {
 public:
  ChatHost(const std::filesystem::path& dir, const std::string& table_extra)
      : host_(dir, {.name = "host",
                    .plugins = {"grpc-chat"},
                    .tables = grpc_chat_table(
                        0, "store_path = \"" + (dir / "data" / "chat.db").string() +
                               "\"\nadmin_id = \"root\"\nadmin_name = \"Ada Admin\"\nadmin_email = \"ada@example.org\"\n" +
                               table_extra)}),
        channel_(chat_channel("127.0.0.1", host_.port("grpc-chat"))) {}

  std::uint16_t port() const { return host_.port("grpc-chat"); }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  HostProcess& process() { return host_.process(); }
  std::optional<int> stop() { return host_.stop(); }

 private:
  TestHost host_;
  std::shared_ptr<grpc::Channel> channel_;
};

constexpr const char* kMemory = "store = \"memory\"\n";
constexpr const char* kSqlite = "store = \"sqlite\"\nsync = \"normal\"\n";

std::vector<std::uint64_t> sequences(const std::vector<ChatStream>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& e : events) out.push_back(e.chat_message().sequence());
  return out;
}

std::vector<std::uint64_t> sequences(const chat::GetChatHistoryResponse& response) {
  std::vector<std::uint64_t> out;
  for (const auto& m : response.messages()) out.push_back(m.sequence());
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> out;
  for (auto s = first; s <= last; ++s) out.push_back(s);
  return out;
}

// What a bridge presents: with the service token (service_token_key() in
// the table, test_service_token() on the stream) a stream may speak for many
// users at any rate, as ws-proxy's do; without it, every stream is one user
// with a WebSocket connection's limits.

grpc::Status history(ChatHost& host, chat::GetChatHistoryRequest request, chat::GetChatHistoryResponse* response,
                     const std::string& token = "") {
  auto stub = chat::ChatService::NewStub(host.channel());
  return stub->GetChatHistory(call_context(token, std::chrono::seconds(5)).get(), request, response);
}

chat::GetChatHistoryRequest history_request(const std::string& room, std::uint32_t limit = 0,
                                            std::uint64_t before = 0, std::optional<std::uint64_t> after = {},
                                            const std::string& sender = "") {
  chat::GetChatHistoryRequest request;
  request.set_room_id(room);
  request.set_limit(limit);
  request.set_before(before);
  if (after) request.set_after(*after);
  request.set_sender_id(sender);
  return request;
}

// Sends `count` messages and waits for their acks, so they are committed.
void send_acked(ChatStreamClient& client, const std::string& room, const std::string& sender, int count,
                const std::string& prefix) {
  for (int i = 0; i < count; ++i) {
    client.send(chat_message(room, sender, prefix + std::to_string(i), prefix + std::to_string(i)));
  }
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(client.wait_for(is_ack_for(prefix + std::to_string(i)))) << "no ack for " << prefix << i;
  }
}

// What does not depend on the store, against the memory store.
class GrpcChatTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// What the store takes part in, against each store: memory, SQLite, and
// PostgreSQL (a schema of its own in the build's test server).
class GrpcChatStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  GrpcChatStoreTest() {
    if (GetParam() == "postgres") database_ = std::make_unique<TestDatabase>();
  }
  // The [grpc-chat] keys that choose the store.
  std::string store() const {
    if (GetParam() == "memory") return kMemory;
    if (GetParam() == "sqlite") return kSqlite;
    return "store = \"postgres\"\ndatabase_url = \"" + database_->url() + "\"\n";
  }

  TempDir dir_;
  std::unique_ptr<TestDatabase> database_;
};

// What only a store that outlives the process can do (restarts).
class GrpcChatDurableStoreTest : public GrpcChatStoreTest {
 protected:
  // A host before the one under test: alice joins `room`, sends `count`
  // messages (ids `prefix`0, `prefix`1, ...) that are acknowledged, and the
  // host stops cleanly.
  void run_a_host_where_alice_sends(const std::string& room, int count, const std::string& prefix) {
    ChatHost host(dir_.path(), store());
    ChatStreamClient alice(host.channel());
    alice.send(join(room, "alice"));
    send_acked(alice, room, "alice", count, prefix);
    EXPECT_EQ(host.stop(), 0);
  }
};

INSTANTIATE_TEST_SUITE_P(Stores, GrpcChatStoreTest, ::testing::Values("memory", "sqlite", "postgres"),
                         [](const auto& store) { return store.param; });
INSTANTIATE_TEST_SUITE_P(Stores, GrpcChatDurableStoreTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& store) { return store.param; });

TEST_P(GrpcChatStoreTest, MembersOfARoomSeeEveryMessageInSequenceOrderAndOtherRoomsSeeNothing) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel()), bob(host.channel()), carol(host.channel());
  alice.send(join("lobby", "alice"));
  bob.send(join("lobby", "bob"));
  carol.send(join("elsewhere", "carol"));
  ASSERT_TRUE(alice.wait_for(is_joined("lobby")));
  ASSERT_TRUE(bob.wait_for(is_joined("lobby")));
  ASSERT_TRUE(carol.wait_for(is_joined("elsewhere")));

  for (int i = 0; i < 20; ++i) {
    alice.send(chat_message("lobby", "alice", "a" + std::to_string(i)));
    bob.send(chat_message("lobby", "bob", "b" + std::to_string(i)));
  }
  auto at_alice = alice.wait_for_count(is_message_in("lobby"), 40);
  auto at_bob = bob.wait_for_count(is_message_in("lobby"), 40);
  ASSERT_EQ(at_alice.size(), 40U);
  ASSERT_EQ(at_bob.size(), 40U);
  EXPECT_EQ(sequences(at_alice), range(1, 40));
  EXPECT_EQ(sequences(at_bob), range(1, 40));
  for (std::size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(at_alice[i].chat_message().content(), at_bob[i].chat_message().content());
  }
  // Each sender's own messages arrive in the order sent.
  int next_a = 0;
  for (const auto& e : at_alice) {
    if (e.chat_message().sender_id() == "alice") {
      EXPECT_EQ(e.chat_message().content(), "a" + std::to_string(next_a++));
    }
  }
  EXPECT_EQ(next_a, 20);

  // carol's room is quiet: a message there arrives, and nothing from lobby before it.
  carol.send(chat_message("elsewhere", "carol", "anyone?"));
  ASSERT_TRUE(carol.wait_for(is_message_with_content("anyone?")));
  EXPECT_TRUE(carol.events_matching(is_message_in("lobby")).empty());
  EXPECT_TRUE(alice.events_matching(is_message_in("elsewhere")).empty());
}

TEST_P(GrpcChatStoreTest, ExerciseClientJoinsBySendingAndGetsItsOwnIdInTheEcho) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient legacy(host.channel());
  legacy.send(chat_message("room1", "client1", "Hello", "msg1"));
  auto echo = legacy.wait_for(is_message_in("room1"));
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->chat_message().id(), "msg1");
  expect_first_message_of_room(echo->chat_message(), "room1", "client1", "Hello");

  // A second exercise client in the room gets the first one's next message.
  ChatStreamClient other(host.channel());
  other.send(chat_message("room1", "client2", "hi all", "x"));
  ASSERT_TRUE(other.wait_for(is_message_with_content("hi all")));
  legacy.send(chat_message("room1", "client1", "welcome", "msg2"));
  ASSERT_TRUE(other.wait_for(is_message_with_content("welcome")));

  // Never joined explicitly: only chat messages reach it, no presence or acks.
  ASSERT_TRUE(legacy.wait_for(is_message_with_content("welcome")));
  for (const auto& event : legacy.events()) EXPECT_TRUE(event.has_chat_message()) << event.DebugString();
}

TEST_P(GrpcChatStoreTest, AckComesBeforeTheEchoAndNamesTheStoredMessage) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel());
  alice.send(join("r", "alice"));
  alice.send(chat_message("r", "alice", "hello", "c-1"));
  auto echo = alice.wait_for(is_message_with_content("hello"));
  ASSERT_TRUE(echo);
  auto events = alice.events();
  auto ack_at = std::find_if(events.begin(), events.end(), is_ack_for("c-1"));
  auto echo_at = std::find_if(events.begin(), events.end(), is_message_with_content("hello"));
  ASSERT_NE(ack_at, events.end());
  EXPECT_LT(ack_at, echo_at);
  EXPECT_EQ(ack_at->ack().sequence(), 1U);
  EXPECT_EQ(ack_at->ack().server_id(), "r:1");
  EXPECT_EQ(ack_at->ack().room_id(), "r");
  EXPECT_EQ(ack_at->ack().sender_id(), "alice");
  EXPECT_FALSE(ack_at->ack().duplicate());
  EXPECT_EQ(ack_at->ack().timestamp().seconds(), echo->chat_message().timestamp().seconds());
}

TEST_P(GrpcChatStoreTest, HistoryPagesByEveryCursorAndFilter) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel()), bob(host.channel());
  alice.send(join("h", "alice"));
  bob.send(join("h", "bob"));
  // Sequences 1..10: alice sends the odd ones, bob the even ones.
  for (int i = 1; i <= 10; ++i) {
    auto& sender = i % 2 == 1 ? alice : bob;
    const std::string who = i % 2 == 1 ? "alice" : "bob";
    sender.send(chat_message("h", who, "m" + std::to_string(i), "id" + std::to_string(i)));
    ASSERT_TRUE(sender.wait_for(is_ack_for("id" + std::to_string(i))));
  }

  chat::GetChatHistoryResponse page;
  ASSERT_TRUE(history(host, history_request("h"), &page).ok());
  EXPECT_EQ(sequences(page), range(1, 10));
  EXPECT_FALSE(page.has_more());
  EXPECT_EQ(page.messages(0).content(), "m1");
  EXPECT_EQ(page.messages(0).id(), "id1");

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 3), &page).ok());
  EXPECT_EQ(sequences(page), range(8, 10));
  EXPECT_TRUE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 2, /*before=*/4), &page).ok());
  EXPECT_EQ(sequences(page), range(2, 3));
  EXPECT_TRUE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 0, 0, /*after=*/7), &page).ok());
  EXPECT_EQ(sequences(page), range(8, 10));
  EXPECT_FALSE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 2, 0, /*after=*/3), &page).ok());
  EXPECT_EQ(sequences(page), range(4, 5));
  EXPECT_TRUE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 4, 0, /*after=*/0), &page).ok());
  EXPECT_EQ(sequences(page), range(1, 4));  // after = 0: from the start
  EXPECT_TRUE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 0, /*before=*/6, /*after=*/2), &page).ok());
  EXPECT_EQ(sequences(page), range(3, 5));
  EXPECT_FALSE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 0, 0, {}, "bob"), &page).ok());
  EXPECT_EQ(sequences(page), (std::vector<std::uint64_t>{2, 4, 6, 8, 10}));

  page.Clear();
  ASSERT_TRUE(history(host, history_request("h", 2, 0, {}, "alice"), &page).ok());
  EXPECT_EQ(sequences(page), (std::vector<std::uint64_t>{7, 9}));
  EXPECT_TRUE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("empty-room"), &page).ok());
  EXPECT_EQ(page.messages_size(), 0);
  EXPECT_FALSE(page.has_more());

  auto status = history(host, history_request("h", 1001), &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("limit"), std::string::npos);
  status = history(host, history_request(""), &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("room_id"), std::string::npos);
}

TEST_P(GrpcChatDurableStoreTest, AfterARestartHistoryAndSequencesContinue) {
  run_a_host_where_alice_sends("durable", 5, "before-");
  if (GetParam() == "sqlite") {
    EXPECT_TRUE(std::filesystem::exists(dir_ / "data" / "chat.db"));
  }
  ChatHost host(dir_.path(), store());
  chat::GetChatHistoryResponse page;
  ASSERT_TRUE(history(host, history_request("durable"), &page).ok());
  EXPECT_EQ(sequences(page), range(1, 5));
  EXPECT_EQ(page.messages(4).content(), "before-4");

  ChatStreamClient alice(host.channel());
  alice.send(join("durable", "alice"));
  auto joined = alice.wait_for(is_joined("durable"));
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->joined().last_sequence(), 5U);
  alice.send(chat_message("durable", "alice", "after", "after-0"));
  auto ack = alice.wait_for(is_ack_for("after-0"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->ack().sequence(), 6U);
}

TEST_P(GrpcChatStoreTest, JoinWithSinceReplaysTheGapThenLiveMessagesWithoutDuplicates) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel());
  alice.send(join("rec", "alice"));
  send_acked(alice, "rec", "alice", 5, "m");

  ChatStreamClient back(host.channel());
  back.send(join("rec", "bob", /*since=*/2));
  auto joined = back.wait_for(is_joined("rec"));
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->joined().last_sequence(), 5U);
  EXPECT_EQ(joined->joined().replayed(), 3U);
  EXPECT_FALSE(joined->joined().history_gap());
  EXPECT_EQ(joined->joined().first_sequence(), 1U);

  alice.send(chat_message("rec", "alice", "live", "live"));
  auto messages = back.wait_for_count(is_message_in("rec"), 4);
  EXPECT_EQ(sequences(messages), range(3, 6));
  EXPECT_EQ(messages.back().chat_message().content(), "live");

  // The Joined answer comes before the replay.
  auto events = back.events();
  auto joined_at = std::find_if(events.begin(), events.end(), is_joined("rec"));
  auto first_message = std::find_if(events.begin(), events.end(), is_message_in("rec"));
  EXPECT_LT(joined_at, first_message);

  // Up to date: nothing to replay.
  ChatStreamClient current(host.channel());
  current.send(join("rec", "carol", /*since=*/6));
  auto up_to_date = current.wait_for(is_joined("rec"));
  ASSERT_TRUE(up_to_date);
  EXPECT_EQ(up_to_date->joined().replayed(), 0U);
  EXPECT_FALSE(up_to_date->joined().history_gap());
}

TEST_P(GrpcChatDurableStoreTest, JoinSaysSoWhenTheGapCannotBeFilled) {
  run_a_host_where_alice_sends("gap", 6, "m");
  // Restarted keeping only the newest 2 messages: 1..4 are gone.
  ChatHost host(dir_.path(), store() + "retention_max_messages = 2\n");
  ASSERT_TRUE(host.process().wait_for_line(std::regex("retention removed 4 messages")));

  ChatStreamClient client(host.channel());
  client.send(join("gap", "bob", /*since=*/1));
  auto joined = client.wait_for(is_joined("gap"));
  ASSERT_TRUE(joined);
  EXPECT_TRUE(joined->joined().history_gap());
  EXPECT_EQ(joined->joined().replayed(), 0U);
  EXPECT_EQ(joined->joined().first_sequence(), 5U);
  EXPECT_EQ(joined->joined().last_sequence(), 6U);

  // Since = 4 is still fillable: 5 and 6 are kept.
  ChatStreamClient fillable(host.channel());
  fillable.send(join("gap", "carol", /*since=*/4));
  auto ok = fillable.wait_for(is_joined("gap"));
  ASSERT_TRUE(ok);
  EXPECT_FALSE(ok->joined().history_gap());
  EXPECT_EQ(sequences(fillable.wait_for_count(is_message_in("gap"), 2)), range(5, 6));

  // A client that has seen more than the room holds (a reset store).
  ChatStreamClient ahead(host.channel());
  ahead.send(join("gap", "dave", /*since=*/1000));
  auto reset = ahead.wait_for(is_joined("gap"));
  ASSERT_TRUE(reset);
  EXPECT_TRUE(reset->joined().history_gap());
}

TEST_P(GrpcChatStoreTest, GetUserKnowsTheAdminAndEveryoneSeenAndNobodyElse) {
  ChatHost host(dir_.path(), store());
  auto stub = chat::ChatService::NewStub(host.channel());
  auto get_user = [&](const std::string& id, chat::GetUserResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    chat::GetUserRequest request;
    request.set_user_id(id);
    return stub->GetUser(&context, request, response);
  };

  chat::GetUserResponse response;
  ASSERT_TRUE(get_user("root", &response).ok());
  EXPECT_EQ(response.user().name(), "Ada Admin");
  EXPECT_EQ(response.user().email(), "ada@example.org");

  auto status = get_user("stranger", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  {
    ChatStreamClient zoe(host.channel());
    zoe.send(join("r", "zoe"));
    ASSERT_TRUE(zoe.wait_for(is_joined("r")));
    response.Clear();
    ASSERT_TRUE(get_user("zoe", &response).ok());
    EXPECT_EQ(response.user().id(), "zoe");
    EXPECT_EQ(response.user().status(), chat::ACTIVE);
  }
  // Stream gone: the user is known but inactive (the server notices shortly).
  for (int i = 0; i < 50; ++i) {
    response.Clear();
    ASSERT_TRUE(get_user("zoe", &response).ok());
    if (response.user().status() == chat::INACTIVE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(response.user().status(), chat::INACTIVE);
}

TEST_F(GrpcChatTest, EveryInvalidFrameGetsAnErrorAndTheStreamLivesOn) {
  ChatHost host(dir_.path(), std::string(kMemory) + "max_content_bytes = 100\n");
  ChatStreamClient client(host.channel());
  client.send(join("v", "val"));
  ASSERT_TRUE(client.wait_for(is_joined("v")));

  struct Case {
    ChatStream frame;
    chat::Error::Code code;
    std::string mentions;
  };
  ChatStream empty_payload;
  ChatStream client_sent_ack;
  client_sent_ack.mutable_ack()->set_id("x");
  std::vector<Case> cases = {
      {chat_message("", "val", "hi", "e1"), chat::Error::MISSING_FIELD, "room_id"},
      {chat_message("v", "", "hi", "e2"), chat::Error::MISSING_FIELD, "sender_id"},
      {chat_message("v", "val", "", "e3"), chat::Error::MISSING_FIELD, "content"},
      {chat_message("v", "val", std::string(101, 'x'), "e4"), chat::Error::TOO_LARGE, "limit is 100"},
      {chat_message("v", "val", "bad \xff\xfe bytes", "e5"), chat::Error::INVALID_FRAME, "UTF-8"},
      {chat_message("v", std::string(200, 'u'), "hi", "e6"), chat::Error::TOO_LARGE, "sender_id"},
      {empty_payload, chat::Error::UNKNOWN_PAYLOAD, "no payload"},
      {client_sent_ack, chat::Error::UNKNOWN_PAYLOAD, "ack"},
      {leave("not-joined", "val"), chat::Error::NOT_MEMBER, "not in that room"},
      {join("", "val"), chat::Error::MISSING_FIELD, "room_id"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::size_t before = client.events().size();
    ASSERT_TRUE(client.send(cases[i].frame)) << "case " << i;
    auto error = client.wait_for(is_error(), std::chrono::seconds(10), before);
    ASSERT_TRUE(error) << "case " << i << ": no error event";
    EXPECT_EQ(error->error().code(), cases[i].code) << "case " << i << ": " << error->error().message();
    EXPECT_NE(error->error().message().find(cases[i].mentions), std::string::npos)
        << "case " << i << ": " << error->error().message();
  }
  // The refused chat_message is named, so its sender can mark it failed.
  auto errors = client.events_matching(is_error());
  EXPECT_EQ(errors[0].error().id(), "e1");
  EXPECT_EQ(errors[0].error().frame(), "chat_message");
  EXPECT_EQ(errors[3].error().room_id(), "v");

  // Nothing refused was stored or delivered, and the stream still works.
  client.send(chat_message("v", "val", "still here", "ok"));
  auto echo = client.wait_for(is_message_with_content("still here"));
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->chat_message().sequence(), 1U);
}

TEST_P(GrpcChatStoreTest, OneStreamMultiplexesUsersAndRoomsAndGetsEachMessageOnce) {
  ChatHost host(dir_.path(), store() + service_token_key());
  ChatStreamClient bridge(host.channel(), test_service_token());
  bridge.send(join("r1", "u1"));
  bridge.send(join("r1", "u3"));  // a second user in r1 over the same stream
  bridge.send(join("r2", "u2"));
  ASSERT_EQ(bridge.wait_for_count(is_joined("r1"), 2).size(), 2U);
  ASSERT_TRUE(bridge.wait_for(is_joined("r2")));

  ChatStreamClient alice(host.channel(), test_service_token()), bob(host.channel(), test_service_token()),
      carol(host.channel(), test_service_token());
  alice.send(chat_message("r1", "alice", "to r1", "a"));
  bob.send(chat_message("r2", "bob", "to r2", "b"));
  carol.send(chat_message("r3", "carol", "to r3", "c"));
  ASSERT_TRUE(carol.wait_for(is_message_with_content("to r3")));
  ASSERT_TRUE(bridge.wait_for(is_message_with_content("to r1")));
  ASSERT_TRUE(bridge.wait_for(is_message_with_content("to r2")));
  EXPECT_EQ(bridge.events_matching(is_message_with_content("to r1")).size(), 1U);
  EXPECT_EQ(bridge.events_matching(is_message_with_content("to r2")).size(), 1U);
  EXPECT_TRUE(bridge.events_matching(is_message_in("r3")).empty());

  // Presence of r1 counts both users of the bridge and the implicit sender.
  auto presence = bridge.wait_for(is_presence("r1", Presence::JOINED, "alice"));
  ASSERT_TRUE(presence);
  EXPECT_EQ(presence->presence().online_count(), 3U);

  // The bridge sends for one of its users; leaving one user keeps the other.
  bridge.send(leave("r1", "u1"));
  ASSERT_TRUE(bridge.wait_for(is_presence("r1", Presence::LEFT, "u1")));
  alice.send(chat_message("r1", "alice", "still there, u3?", "a2"));
  ASSERT_TRUE(bridge.wait_for(is_message_with_content("still there, u3?")));
}

TEST_P(GrpcChatStoreTest, PresenceTellsWhoJoinsAndLeaves) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel());
  alice.send(join("p", "alice"));
  auto snapshot = alice.wait_for(is_presence("p", Presence::SNAPSHOT));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->presence().online_size(), 1);
  EXPECT_EQ(snapshot->presence().online_count(), 1U);
  {
    ChatStreamClient bob(host.channel());
    bob.send(join("p", "bob"));
    // The change only: who, and how many now; the list is the joiner's snapshot.
    auto joined = alice.wait_for(is_presence("p", Presence::JOINED, "bob"));
    ASSERT_TRUE(joined);
    EXPECT_EQ(joined->presence().online_size(), 0);
    EXPECT_EQ(joined->presence().online_count(), 2U);
    auto bobs = bob.wait_for(is_presence("p", Presence::SNAPSHOT));
    ASSERT_TRUE(bobs);
    EXPECT_EQ(std::vector<std::string>(bobs->presence().online().begin(), bobs->presence().online().end()),
              (std::vector<std::string>{"alice", "bob"}));
  }
  auto left = alice.wait_for(is_presence("p", Presence::LEFT, "bob"));
  ASSERT_TRUE(left);
  EXPECT_EQ(left->presence().online_size(), 0);
  EXPECT_EQ(left->presence().online_count(), 1U);
}

TEST_P(GrpcChatStoreTest, GetRoomSendersListsWhoWroteInTheRoomSortedWithHasMore) {
  ChatHost host(dir_.path(), store());
  // One stream per user, as a caller without the service token has.
  int n = 0;
  for (const std::string sender : {"zoe", "ann", "mia", "ann"}) {
    ChatStreamClient client(host.channel());
    const std::string id = "m" + std::to_string(n++);
    client.send(chat_message("senders", sender, id, id));
    ASSERT_TRUE(client.wait_for(is_message_with_content(id)));  // stored: its echo came
  }
  ChatStreamClient bob(host.channel());
  bob.send(chat_message("elsewhere", "bob", "b1", "b1"));
  ASSERT_TRUE(bob.wait_for(is_message_with_content("b1")));

  auto stub = chat::ChatService::NewStub(host.channel());
  const auto senders = [&](const std::string& room, std::uint32_t limit, chat::GetRoomSendersResponse* response) {
    chat::GetRoomSendersRequest request;
    request.set_room_id(room);
    request.set_limit(limit);
    return stub->GetRoomSenders(call_context().get(), request, response);
  };
  chat::GetRoomSendersResponse all;
  ASSERT_TRUE(senders("senders", 0, &all).ok());
  EXPECT_EQ(std::vector<std::string>(all.sender_ids().begin(), all.sender_ids().end()),
            (std::vector<std::string>{"ann", "mia", "zoe"}));
  EXPECT_FALSE(all.has_more());
  chat::GetRoomSendersResponse two;
  ASSERT_TRUE(senders("senders", 2, &two).ok());
  EXPECT_EQ(std::vector<std::string>(two.sender_ids().begin(), two.sender_ids().end()),
            (std::vector<std::string>{"ann", "mia"}));
  EXPECT_TRUE(two.has_more());
  chat::GetRoomSendersResponse refused;
  EXPECT_EQ(senders("", 0, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(senders("senders", 1001, &refused).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(GrpcChatStoreTest, TypingReachesTheMembersThatJoinedAndIsNeverStored) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel());
  ChatStreamClient bob(host.channel());
  ChatStreamClient carol(host.channel());  // the exercise's client: joins by sending
  alice.send(join("t", "alice"));
  bob.send(join("t", "bob"));
  ASSERT_TRUE(alice.wait_for(is_joined("t")));
  ASSERT_TRUE(bob.wait_for(is_joined("t")));
  carol.send(chat_message("t", "carol", "hi", "c1"));
  ASSERT_TRUE(carol.wait_for(is_message_with_content("hi")));

  // Five at once: one passes (at most one a second), then the stop.
  for (int i = 0; i < 5; ++i) bob.send(typing("t", "bob"));
  bob.send(typing("t", "bob", true));
  ASSERT_TRUE(alice.wait_for(is_typing("t", "bob", true)));
  EXPECT_LT(alice.events_matching(is_typing("t", "bob", false)).size(), 5U);
  EXPECT_GE(alice.events_matching(is_typing("t", "bob", false)).size(), 1U);
  EXPECT_TRUE(bob.wait_for(is_typing("t", "bob", true)));  // the typer's own streams too

  // The exercise's client sees nothing new: a message sent after the typing
  // reaches it, and no typing came before it.
  alice.send(chat_message("t", "alice", "after typing", "a1"));
  ASSERT_TRUE(carol.wait_for(is_message_with_content("after typing")));
  for (const auto& event : carol.events()) EXPECT_FALSE(event.has_typing()) << event.ShortDebugString();

  // Not in the room: refused, named.
  ChatStreamClient dave(host.channel());
  dave.send(typing("t", "dave"));
  const auto refused = dave.wait_for(is_error());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().code(), chat::Error::NOT_MEMBER);
  EXPECT_EQ(refused->error().frame(), "typing");
  EXPECT_EQ(refused->error().room_id(), "t");

  // Never stored, never replayed: the room's history and a replay from the
  // start hold the two messages only.
  chat::GetChatHistoryResponse page;
  ASSERT_TRUE(history(host, history_request("t"), &page).ok());
  EXPECT_EQ(page.messages_size(), 2);
  ChatStreamClient erin(host.channel());
  erin.send(join("t", "erin", 0));
  ASSERT_TRUE(erin.wait_for(is_presence("t", Presence::SNAPSHOT)));
  for (const auto& event : erin.events()) EXPECT_FALSE(event.has_typing()) << event.ShortDebugString();
}

TEST_F(GrpcChatTest, HealthIsServingWhileRunningAndReflectionListsTheService) {
  ChatHost host(dir_.path(), kMemory);
  // The health check answers (fatal when not) and says SERVING.
  ASSERT_EQ(chat_service_serving(host.channel()), std::optional<bool>(true));

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(host.channel());
  const auto reflection_context = call_context("", std::chrono::seconds(5));
  auto stream = reflection->ServerReflectionInfo(reflection_context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("*");
  ASSERT_TRUE(stream->Write(list));
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::vector<std::string> names;
  for (const auto& service : listed.list_services_response().service()) names.push_back(service.name());
  EXPECT_NE(std::find(names.begin(), names.end(), "chat.ChatService"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "grpc.health.v1.Health"), names.end());
  stream->Finish();
}

TEST_P(GrpcChatStoreTest, HistoryLimitDefaultsToFiftyAndAllowsAThousand) {
  ChatHost host(dir_.path(), store());
  ChatStreamClient alice(host.channel());
  alice.send(join("many", "alice"));
  ASSERT_TRUE(alice.wait_for(is_joined("many")));
  send_acked(alice, "many", "alice", 60, "m");

  // The exercise's request (room only) gets the latest 50, oldest first.
  chat::GetChatHistoryResponse page;
  ASSERT_TRUE(history(host, history_request("many"), &page).ok());
  EXPECT_EQ(sequences(page), range(11, 60));
  EXPECT_TRUE(page.has_more());

  page.Clear();
  ASSERT_TRUE(history(host, history_request("many", 1000), &page).ok());
  EXPECT_EQ(sequences(page), range(1, 60));
  EXPECT_FALSE(page.has_more());
}

TEST_F(GrpcChatTest, AStreamThatNeverReadsAndSetNoDeadlineIsEndedAndTheRoomCarriesOn) {
  // Bridges: the talker sends faster than one user may.
  ChatHost host(dir_.path(), std::string(kMemory) + "stream_queue_limit = 20\n" + service_token_key());
  // Its own connection: a reader that stalls a shared one would stall everyone on it.
  grpc::ChannelArguments own;
  own.SetInt("chat-test-own-connection", 1);
  auto deaf_channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(host.port()),
                                                grpc::InsecureChannelCredentials(), own);
  auto stub = chat::ChatService::NewStub(deaf_channel);
  grpc::ClientContext context;  // no deadline, and it never reads
  context.AddMetadata("authorization", "Bearer " + test_service_token());
  auto deaf = stub->Chat(&context);
  ASSERT_TRUE(deaf->Write(join("flood", "deaf")));

  ChatStreamClient talker(host.channel(), test_service_token());
  talker.send(join("flood", "talker"));
  ASSERT_TRUE(talker.wait_for(is_presence("flood", Presence::SNAPSHOT)));
  // Enough to fill the deaf client's flow-control windows and then its queue
  // of 20; a few at a time, so the talker's own queue stays short.
  const std::string page(4000, 'x');
  for (int batch = 0; batch < 1000; ++batch) {
    const std::string prefix = "f" + std::to_string(batch) + "-";
    for (int i = 0; i < 5; ++i) talker.send(chat_message("flood", "talker", page, prefix + std::to_string(i)));
    ASSERT_TRUE(talker.wait_for(is_ack_for(prefix + "4"))) << "batch " << batch;
    if (talker.wait_for(is_presence("flood", Presence::LEFT, "deaf"), 0ms)) break;
  }
  // grpc-chat ended the call: the room saw the deaf user leave, and the talker carries on.
  ASSERT_TRUE(talker.wait_for(is_presence("flood", Presence::LEFT, "deaf"), 10s));
  talker.send(chat_message("flood", "talker", "still here", "last"));
  EXPECT_TRUE(talker.wait_for(is_ack_for("last")));
  context.TryCancel();
}

TEST_F(GrpcChatTest, MessagesOverTheReceiveLimitAreResourceExhausted) {
  ChatHost host(dir_.path(), std::string(kMemory) + "max_receive_bytes = 4096\n");
  chat::GetChatHistoryResponse page;
  auto status = history(host, history_request(std::string(8192, 'r')), &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();

  // On a stream the oversized frame ends that stream only.
  ChatStreamClient big(host.channel());
  big.send(chat_message("r", "big", std::string(8192, 'x')));
  auto ended = big.wait_finished();
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << ended->error_message();

  ChatStreamClient small(host.channel());
  small.send(chat_message("r", "small", "fits", "f1"));
  EXPECT_TRUE(small.wait_for(is_message_with_content("fits")));
}

TEST_F(GrpcChatTest, HealthTurnsNotServingWhenTheHostDrains) {
  ChatHost host(dir_.path(), kMemory);
  auto health = grpc::health::v1::Health::NewStub(host.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("chat.ChatService");
  auto watch = health->Watch(&context, request);
  grpc::health::v1::HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  host.process().signal(SIGTERM);
  bool saw_not_serving = false;
  while (watch->Read(&update)) {
    if (update.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING) saw_not_serving = true;
  }
  EXPECT_TRUE(saw_not_serving);
  watch->Finish();
  EXPECT_EQ(host.process().wait_exit(), 0);
}

TEST_P(GrpcChatDurableStoreTest, StopFinishesStreamsWithUnavailableAndLosesNoAcknowledgedMessage) {
  std::vector<std::string> acked;
  {
    // A bridge's stream: sending as fast as it can, beyond one user's rate.
    ChatHost host(dir_.path(), store() + service_token_key());
    ChatStreamClient alice(host.channel(), test_service_token());
    alice.send(join("stop", "alice"));
    ASSERT_TRUE(alice.wait_for(is_joined("stop")));
    // Keep sending while the host stops.
    std::atomic<bool> sending{true};
    std::thread sender([&] {
      for (int i = 0; sending && i < 100000; ++i) {
        if (!alice.send(chat_message("stop", "alice", "x", "s" + std::to_string(i)))) break;
      }
    });
    ASSERT_TRUE(alice.wait_for(is_ack_for("s100")));
    EXPECT_EQ(host.stop(), 0);
    sending = false;
    sender.join();
    auto status = alice.wait_finished();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(status->error_message(), "the chat service is stopping");
    for (const auto& e : alice.events_matching([](const ChatStream& e) { return e.has_ack(); })) {
      acked.push_back(e.ack().id());
    }
  }
  ASSERT_GT(acked.size(), 100U);
  ChatHost host(dir_.path(), store() + service_token_key());
  chat::GetChatHistoryResponse page;
  std::vector<std::string> stored;
  std::uint64_t after = 0;
  do {
    page.Clear();
    ASSERT_TRUE(history(host, history_request("stop", 1000, 0, after), &page, test_service_token()).ok());
    for (const auto& m : page.messages()) {
      EXPECT_EQ(m.sequence(), after + 1);  // no gaps
      after = m.sequence();
      stored.push_back(m.id());
    }
  } while (page.has_more());
  // Every acknowledged message is stored; acks and storage agree one to one.
  EXPECT_EQ(stored.size(), acked.size());
  for (std::size_t i = 0; i < std::min(stored.size(), acked.size()); ++i) EXPECT_EQ(stored[i], acked[i]);
}

}  // namespace
}  // namespace chathost::test
