// The JSON mapping: encode and decode agree with protobuf's own printer and
// parser, message for message, and hand protobuf's errors back unchanged.
#include "chat_json.hpp"

#include <boost/json.hpp>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using chat::ChatStream;
using google::protobuf::util::MessageDifferencer;

// Frames a client or server may write, in both spellings and every shape the
// protocol uses.
const std::vector<std::string> kGoodFrames = {
    R"({"chat_message":{"id":"msg1","room_id":"room1","sender_id":"client1","content":"Hello"}})",
    R"({"chatMessage":{"id":"msg1","roomId":"room1","senderId":"client1","content":"Hello"}})",
    R"({"chat_message":{"room_id":"r","sender_id":"u","content":"é ✓ 😀 \"quoted\" \\ \n\t <b>&amp;"}})",
    R"({"chat_message":{"room_id":"r","sender_id":"u","content":"x","sequence":"18446744073709551615","resend":true}})",
    R"({"chat_message":{"room_id":"r","sender_id":"u","content":"x","sequence":42,"timestamp":"2026-11-26T00:06:14.417Z"}})",
    R"({"join":{"room_id":"r","user_id":"u"}})",
    R"({"join":{"room_id":"r","user_id":"u","since":"0"}})",
    R"({"join":{"roomId":"r","userId":"u","since":7}})",
    R"({"leave":{"room_id":"r","user_id":"u"}})",
    R"({"joined":{"room_id":"r","user_id":"u","last_sequence":"9","replayed":"3","history_gap":true,"first_sequence":"2"}})",
    R"({"presence":{"room_id":"r","kind":"JOINED","user_id":"u","online":["a","b","u"]}})",
    R"({"presence":{"room_id":"r","online":[]}})",
    R"({"ack":{"id":"c-1","room_id":"r","sequence":"1","timestamp":"1970-01-01T00:00:00Z","server_id":"r:1","duplicate":true,"sender_id":"u"}})",
    R"({"error":{"code":"TOO_LARGE","message":"too big","frame":"chat_message","id":"m","room_id":"r","user_id":"u"}})",
    R"({"service_status":{"available":false,"message":"down"}})",
    R"({})",
    R"({"chat_message":{}})",
};

// Frames protobuf refuses or reads in its own way; decode must answer exactly
// as protobuf does.
const std::vector<std::string> kOtherFrames = {
    "",
    "not json",
    "[1,2]",
    "\"text\"",
    R"({"chat_message":{"id":"m1"})",
    R"({"foo":{}})",
    R"({"chat_message":{"room":"r"}})",
    R"({"chat_message":{"room_id":5}})",
    R"({"chat_message":{"room_id":null,"content":"x"}})",
    R"({"chat_message":{"sequence":1.0}})",
    R"({"chat_message":{"sequence":-1}})",
    R"({"chat_message":{"sequence":"1e3"}})",
    R"({"chat_message":{"resend":"true"}})",
    R"({"chat_message":{"timestamp":"yesterday"}})",
    R"({"chat_message":{},"join":{}})",
    R"({"presence":{"kind":"SIDEWAYS"}})",
    R"({"presence":{"kind":2}})",
    R"({"presence":{"online":"a"}})",
    R"({"presence":{"online":[null]}})",
    R"({"join":{"since":"18446744073709551616"}})",
    R"({"chat_message":{"room_id":"r","roomId":"s"}})",
    R"({"join":{"room_id":"r1","user_id":"u1","since":"x","since":"1"}})",
    R"({"join":{"room_id":"r1","room_id":"r2"}})",
    R"({"join":{"room_id":"r1"},"join":{"room_id":"r2"}})",
};

void expect_same_decode(const std::string& text) {
  ChatStream ours, theirs;
  const std::string our_error = chat::json::decode(text, ours);
  const std::string their_error = chat::json::reference::decode(text, theirs);
  EXPECT_EQ(our_error, their_error) << text;
  if (our_error.empty() && their_error.empty()) {
    EXPECT_TRUE(MessageDifferencer::Equals(ours, theirs)) << text << "\nours:   " << ours.ShortDebugString()
                                                          << "\ntheirs: " << theirs.ShortDebugString();
  }
}

TEST(ChatJson, DecodesEveryProtocolShapeAsProtobufDoes) {
  for (const auto& text : kGoodFrames) {
    ChatStream frame;
    EXPECT_EQ(chat::json::decode(text, frame), "") << text;
    expect_same_decode(text);
  }
}

TEST(ChatJson, AnswersEverythingElseAsProtobufDoes) {
  for (const auto& text : kOtherFrames) expect_same_decode(text);
}

TEST(ChatJson, EncodesToTheSameJsonAsProtobuf) {
  for (const auto& text : kGoodFrames) {
    ChatStream frame;
    ASSERT_EQ(chat::json::decode(text, frame), "") << text;
    const std::string ours = chat::json::encode(frame);
    const std::string theirs = chat::json::reference::encode(frame);
    // The same JSON value: members, order aside, and spelling of numbers.
    EXPECT_EQ(boost::json::parse(ours), boost::json::parse(theirs)) << ours << "\n" << theirs;
  }
}

TEST(ChatJson, EncodesAHistoryPageWithTimestamps) {
  chat::GetChatHistoryResponse page;
  for (int i = 1; i <= 3; ++i) {
    auto* m = page.add_messages();
    m->set_room_id("r");
    m->set_sequence(static_cast<std::uint64_t>(i));
    m->mutable_timestamp()->set_seconds(1795658270);
    m->mutable_timestamp()->set_nanos(i * 1000);
    m->set_content("m" + std::to_string(i));
  }
  page.set_has_more(true);
  EXPECT_EQ(boost::json::parse(chat::json::encode(page)), boost::json::parse(chat::json::reference::encode(page)));
}

// Chat messages are written field by field, not by reflection: every field,
// every character that needs escaping, every timestamp precision, and random
// text must come out as the same JSON value protobuf writes, in one line,
// fields in number order.
TEST(ChatJson, ChatMessagesWrittenDirectlyMatchProtobuf) {
  chat::ChatMessage full;
  full.set_id("m\"1\"");
  full.set_room_id("r\\1/2");
  full.set_sender_id("é ✓ 😀");
  full.set_content(std::string("ctl \x01\x1f \b\f\n\r\t <b>&amp;</b> ") + '\0' + " end");
  full.set_sequence(18446744073709551615ULL);
  full.mutable_timestamp()->set_seconds(1795658270);
  full.mutable_timestamp()->set_nanos(417000000);
  full.set_server_id("r:1");
  full.set_resend(true);
  std::vector<chat::ChatMessage> messages(6);
  messages[1].set_content("x");
  messages[2] = full;
  messages[3].mutable_timestamp();  // set, at the epoch
  messages[4].mutable_timestamp()->set_nanos(1);
  messages[4].set_sequence(1);
  messages[5].mutable_timestamp()->set_nanos(123456000);
  messages[5].set_resend(true);

  // Timestamps across protobuf's whole range, leap days and every precision.
  for (const std::int64_t seconds : {-62135596800LL, -62135596799LL, -1LL, 0LL, 951782400LL, 951868799LL,
                                     4107542399LL, 253402300799LL}) {
    for (const std::int32_t nanos : {0, 1, 999999999, 5000000, 120000}) {
      chat::ChatMessage m;
      m.mutable_timestamp()->set_seconds(seconds);
      m.mutable_timestamp()->set_nanos(nanos);
      messages.push_back(m);
    }
  }
  std::mt19937 random(7);
  for (int i = 0; i < 500; ++i) {
    chat::ChatMessage m;
    std::string text;
    const auto length = random() % 40;
    for (std::size_t j = 0; j < length; ++j) text += static_cast<char>(random() % 128);  // ASCII: valid UTF-8
    m.set_content(text);
    m.set_room_id(std::to_string(random()));
    m.set_sequence(random() % 3);
    std::uniform_int_distribution<std::int64_t> any_second(-62135596800LL, 253402300799LL);
    m.mutable_timestamp()->set_seconds(any_second(random));
    messages.push_back(m);
  }

  for (const auto& message : messages) {
    std::string page = "[";
    chat::json::append(message, page);
    EXPECT_EQ(page, "[" + chat::json::encode(message));
    ChatStream frame;
    *frame.mutable_chat_message() = message;
    for (const google::protobuf::Message* m : {static_cast<const google::protobuf::Message*>(&message),
                                               static_cast<const google::protobuf::Message*>(&frame)}) {
      const std::string ours = chat::json::encode(*m);
      const std::string theirs = chat::json::reference::encode(*m);
      EXPECT_EQ(boost::json::parse(ours), boost::json::parse(theirs)) << ours << "\n" << theirs;
      EXPECT_EQ(ours.find('\n'), std::string::npos) << ours;
    }
  }
  EXPECT_EQ(chat::json::encode(full),
            R"({"id":"m\"1\"","room_id":"r\\1/2","sender_id":"é ✓ 😀","content":"ctl \u0001\u001f )"
            R"(\b\f\n\r\t <b>&amp;</b> \u0000 end","sequence":"18446744073709551615",)"
            R"("timestamp":"2026-11-26T01:57:50.417Z","server_id":"r:1","resend":true})");
}

TEST(ChatJson, InvalidUtf8IsLeftToProtobuf) {
  ChatStream frame;
  frame.mutable_chat_message()->set_content("bad \xff bytes");
  EXPECT_EQ(chat::json::encode(frame), chat::json::reference::encode(frame));
  std::string page = "[";
  chat::json::append(frame.chat_message(), page);
  EXPECT_EQ(page, "[" + chat::json::reference::encode(frame.chat_message()));
}

}  // namespace
