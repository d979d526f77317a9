// ws-proxy's FrameRouter without sockets: a RecordingMember in place of a
// WebSocket session, and one upstream link to a chat node nobody listens on
// (never started), so the chat service is unavailable. What the router
// refuses, and how, is what a client sees: an error frame naming the frame,
// and the connection going on.
#include "frame_router.hpp"
#include "support/recording_client.hpp"

#include <boost/asio/io_context.hpp>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace {

using chat::ChatStream;
using chat::Error;
using chat::proxy::FrameRouter;
using chat::proxy::ProxyOptions;
using chat::proxy::UpstreamLink;
using chat::test::RecordingMember;
using namespace std::chrono_literals;

ProxyOptions options() {
  ProxyOptions o;
  o.chat_nodes = {"127.0.0.1:1"};
  o.upstream_streams = 1;
  o.upstream_queue_limit = 100;
  o.max_rooms_per_connection = 2;
  o.reconnect_min = 100ms;
  o.reconnect_max = 1s;
  return o;
}

class FrameRouterTest : public ::testing::Test {
 protected:
  FrameRouterTest() {
    links_.push_back(std::make_unique<UpstreamLink>(
        0, std::vector{grpc::CreateChannel(options_.chat_nodes[0], grpc::InsecureChannelCredentials())}, nullptr,
        fanout_, shard_.get_executor(), options_, std::make_shared<spdlog::logger>("test"), [] {}));
  }

  // The frames the member was sent since the last call, as events.
  std::vector<ChatStream> sent() {
    std::vector<ChatStream> events;
    for (const auto& frame : member_->frames) {
      ChatStream event;
      EXPECT_TRUE(chat::json::decode(frame.json(), event).empty()) << frame.json();
      events.push_back(event);
    }
    member_->frames.clear();
    return events;
  }

  // The rooms the member is in, as its link keeps them, sorted.
  std::vector<std::string> rooms() {
    auto rooms = links_.front()->rooms_of(*member_);
    std::sort(rooms.begin(), rooms.end());
    EXPECT_EQ(rooms.size(), member_->state.rooms) << "the connection's count of its rooms";
    return rooms;
  }

  // The one error the last frame got.
  Error refusal() {
    const auto events = sent();
    EXPECT_EQ(events.size(), 1U);
    if (events.empty() || !events.back().has_error()) {
      ADD_FAILURE() << "no error frame";
      return {};
    }
    return events.back().error();
  }

  const ProxyOptions options_ = options();
  boost::asio::io_context shard_;
  chat::proxy::Fanout fanout_{{shard_.get_executor()}};
  std::vector<std::unique_ptr<UpstreamLink>> links_;
  bool announced_available_ = false;
  FrameRouter router_{options_, links_, [this] { return announced_available_; }};
  std::shared_ptr<RecordingMember> member_ = std::make_shared<RecordingMember>(1);
};

TEST_F(FrameRouterTest, AFrameThatIsNotAChatStreamIsRefusedAndTheConnectionGoesOn) {
  router_.on_text(member_, "this is not JSON");
  EXPECT_EQ(refusal().code(), Error::INVALID_FRAME);
  router_.on_text(member_, R"({"teleport":{"to":"mars"}})");
  const auto unknown = refusal();
  EXPECT_EQ(unknown.code(), Error::UNKNOWN_PAYLOAD);
  EXPECT_EQ(unknown.frame(), "teleport");
  router_.on_text(member_, "{}");
  EXPECT_EQ(refusal().code(), Error::UNKNOWN_PAYLOAD);
}

TEST_F(FrameRouterTest, FramesOnlyTheServiceOrABridgeSendsAreRefused) {
  for (const std::string name : {"ack", "joined", "presence", "service_status", "batch", "watch", "watching"}) {
    router_.on_text(member_, "{\"" + name + "\":{}}");
    const auto error = refusal();
    EXPECT_EQ(error.code(), Error::UNKNOWN_PAYLOAD) << name;
    EXPECT_EQ(error.frame(), name);
  }
}

TEST_F(FrameRouterTest, AConnectionSpeaksAsOneUserOnly) {
  router_.on_text(member_, R"({"join":{"room_id":"r1","user_id":"alice"}})");
  EXPECT_TRUE(sent().empty()) << "the join waits for the chat service";
  EXPECT_EQ(member_->state.user, "alice");
  EXPECT_TRUE(member_->speaks_full_protocol());

  router_.on_text(member_, R"({"chat_message":{"id":"m1","room_id":"r1","sender_id":"mallory","content":"hi"}})");
  const auto error = refusal();
  EXPECT_EQ(error.code(), Error::NOT_ALLOWED);
  EXPECT_EQ(error.frame(), "chat_message");
  EXPECT_EQ(error.id(), "m1");
  EXPECT_EQ(error.user_id(), "mallory");

  router_.on_text(member_, R"({"typing":{"room_id":"r1","user_id":"mallory"}})");
  EXPECT_EQ(refusal().code(), Error::NOT_ALLOWED);
  router_.on_text(member_, R"({"leave":{"room_id":"elsewhere"}})");
  const auto not_member = refusal();
  EXPECT_EQ(not_member.code(), Error::NOT_MEMBER);
  EXPECT_EQ(not_member.user_id(), "alice") << "a leave without a user is the connection's";
}

TEST_F(FrameRouterTest, RoomsOutsideTheTokensGrantAndBeyondTheLimitAreRefused) {
  chat::proxy::UpgradeTarget target;
  target.user = "alice";
  target.rooms = *chat::auth::RoomGrant::from_claim(boost::json::array{"r1", "r2", "r3"});
  router_.opened(member_, target);
  EXPECT_EQ(member_->state.user, "alice");

  router_.on_text(member_, R"({"join":{"room_id":"secret"}})");
  const auto refused = refusal();
  EXPECT_EQ(refused.code(), Error::NOT_ALLOWED);
  EXPECT_EQ(refused.room_id(), "secret");

  router_.on_text(member_, R"({"join":{"room_id":"r1"}})");
  router_.on_text(member_, R"({"join":{"room_id":"r2"}})");
  EXPECT_TRUE(sent().empty());
  router_.on_text(member_, R"({"join":{"room_id":"r3"}})");  // max_rooms_per_connection is 2
  EXPECT_EQ(refusal().code(), Error::NOT_ALLOWED);
  EXPECT_EQ(rooms(), (std::vector<std::string>{"r1", "r2"}));

  router_.on_text(member_, R"({"leave":{"room_id":"r1"}})");
  router_.on_text(member_, R"({"join":{"room_id":"r3"}})");
  EXPECT_TRUE(sent().empty());
  EXPECT_EQ(rooms(), (std::vector<std::string>{"r2", "r3"}));
}

TEST_F(FrameRouterTest, AConnectionThatEndsLeavesEveryRoomItWasIn) {
  chat::proxy::UpgradeTarget target;
  target.user = "alice";
  target.room = "r1";  // ?room=
  router_.opened(member_, target);
  router_.on_text(member_, R"({"join":{"room_id":"r2"}})");
  ASSERT_EQ(rooms(), (std::vector<std::string>{"r1", "r2"}));

  // Typing in a room it has left is refused, though it typed there lately.
  router_.on_text(member_, R"({"typing":{"room_id":"r2"}})");
  EXPECT_TRUE(sent().empty());
  router_.on_text(member_, R"({"leave":{"room_id":"r2"}})");
  router_.on_text(member_, R"({"typing":{"room_id":"r2"}})");
  EXPECT_EQ(refusal().code(), Error::NOT_MEMBER);
  router_.on_text(member_, R"({"join":{"room_id":"r2"}})");
  ASSERT_EQ(rooms(), (std::vector<std::string>{"r1", "r2"}));

  router_.closed(*member_);
  EXPECT_TRUE(rooms().empty());
  // Its typing and leaving now concern no room of its.
  router_.on_text(member_, R"({"typing":{"room_id":"r1"}})");
  EXPECT_EQ(refusal().code(), Error::NOT_MEMBER);
}

TEST_F(FrameRouterTest, AMessageWhileTheChatServiceIsUnavailableIsRefusedNamingIt) {
  router_.on_text(member_, R"({"chat_message":{"id":"m1","room_id":"r1","sender_id":"alice","content":"hi"}})");
  const auto error = refusal();
  EXPECT_EQ(error.code(), Error::UNAVAILABLE);
  EXPECT_EQ(error.id(), "m1");
  EXPECT_EQ(error.room_id(), "r1");
  EXPECT_TRUE(rooms().empty()) << "not sent: not in the room";
  EXPECT_EQ(member_->state.user, "alice") << "the first message fixes the connection's user";
}

}  // namespace
