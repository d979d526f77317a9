#include "chat_frame.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace chathost::bench {
namespace {

OutgoingMessage message(Phase phase = Phase::Measured) {
  return OutgoingMessage{.tag = "0123abcd",
                         .room = "room-3",
                         .sender_prefix = "client-",
                         .client = 42,
                         .phase = phase,
                         .seq = 7,
                         .send_ns = 123456789012345,
                         .content_size = 100};
}

TEST(ChatFrame, IsTheExercisesFrameWithTheRequestedContentSize) {
  std::string frame;
  write_chat_frame(frame, message());
  auto value = boost::json::parse(frame);
  const auto& object = value.as_object();
  ASSERT_EQ(object.size(), 1u);
  const auto& chat = object.at("chat_message").as_object();
  EXPECT_EQ(chat.at("id").as_string(), "0123abcd-42-7");
  EXPECT_EQ(chat.at("room_id").as_string(), "room-3");
  EXPECT_EQ(chat.at("sender_id").as_string(), "client-42");
  EXPECT_EQ(chat.at("content").as_string().size(), 100u);
  EXPECT_EQ(chat.size(), 4u);
}

TEST(ChatFrame, ReusingTheStringReplacesTheFrame) {
  std::string frame;
  write_chat_frame(frame, message());
  const auto first = frame;
  write_chat_frame(frame, message());
  EXPECT_EQ(frame, first);
}

TEST(ChatFrame, ReadsBackWhatItWroteWhateverTheEncoderDidToKeysAndSpaces) {
  std::string frame;
  write_chat_frame(frame, message(Phase::Join));
  auto read = read_chat_frame(frame, "0123abcd");
  EXPECT_EQ(read.kind, FrameKind::ChatMessage);
  ASSERT_TRUE(read.payload);
  EXPECT_EQ(read.payload->phase, Phase::Join);
  EXPECT_EQ(read.payload->client, 42u);
  EXPECT_EQ(read.payload->seq, 7u);
  EXPECT_EQ(read.payload->send_ns, 123456789012345);

  // Re-encoded as a server might: other key order, extra fields, spaces.
  auto content = std::string(boost::json::parse(frame).at("chat_message").at("content").as_string());
  std::string reencoded = R"({ "chat_message" : { "sequence": "12", "content" : ")" + content +
                          R"(", "room_id": "room-3", "timestamp": "2024-01-01T00:00:00Z" } })";
  auto again = read_chat_frame(reencoded, "0123abcd");
  ASSERT_TRUE(again.payload);
  EXPECT_EQ(again.payload->seq, 7u);
}

TEST(ChatFrame, OtherRunsAndOtherKindsAreRecognisedAsSuch) {
  std::string frame;
  write_chat_frame(frame, message());
  auto other_run = read_chat_frame(frame, "ffffffff");
  EXPECT_EQ(other_run.kind, FrameKind::ChatMessage);
  EXPECT_FALSE(other_run.payload);

  EXPECT_EQ(read_chat_frame(R"({"chat_message":{"content":"hello"}})", "0123abcd").kind, FrameKind::ChatMessage);
  EXPECT_FALSE(read_chat_frame(R"({"chat_message":{"content":"hello"}})", "0123abcd").payload);
  EXPECT_EQ(read_chat_frame(R"({"error":"invalid JSON"})", "0123abcd").kind, FrameKind::Error);
  EXPECT_EQ(read_chat_frame(R"( {"error":{"code":"RATE","message":"slow down"}})", "x").kind, FrameKind::Error);
  EXPECT_EQ(read_chat_frame(R"({"ack":{"id":"m1","sequence":"3"}})", "x").kind, FrameKind::Other);
  EXPECT_EQ(read_chat_frame(R"({"presence":{"user_id":"u"}})", "x").kind, FrameKind::Other);
  EXPECT_EQ(read_chat_frame(R"({"chat_message":null})", "x").kind, FrameKind::Other);
  EXPECT_EQ(read_chat_frame("", "x").kind, FrameKind::Other);
  EXPECT_EQ(read_chat_frame("not json", "x").kind, FrameKind::Other);
}

TEST(ChatFrame, RunTagsAreEightHexDigitsAndDiffer) {
  auto a = make_run_tag();
  auto b = make_run_tag();
  EXPECT_EQ(a.size(), 8u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace chathost::bench
