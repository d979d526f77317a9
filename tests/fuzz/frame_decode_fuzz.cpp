// The WebSocket frame decoder: JSON text -> chat.ChatStream
// (chat::json::decode), and what ws-proxy does with the result: the error
// frame for a refused frame (describe_bad_frame) and the id checks of the
// frames it forwards (check_id, is_valid_utf8).
//
// Properties, for text that is valid UTF-8 (Beast closes the connection with
// 1007 on any other text frame, so the bridge never sees it):
//  - decode agrees with protobuf's own JSON parser (chat::json::reference):
//    the same frames accepted, to equal messages;
//  - a frame that decodes re-encodes (chat::json::encode) to JSON that decodes
//    to an equal message, the same JSON value as protobuf's own printer
//    writes, and survives the protobuf wire format (what the chat service
//    receives);
//  - a refused frame is described as INVALID_FRAME or UNKNOWN_PAYLOAD, and
//    its error frame encodes and decodes back to the same error;
//  - check_id accepts exactly the ids of 1..128 bytes of well-formed UTF-8
//    and otherwise names the field and the right reason.
// For every input: is_valid_utf8 agrees with the reference validator.
#include "fuzz_check.hpp"

#include "chat_json.hpp"
#include "frames.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using chat::ChatStream;
using chat::Error;
using chat::fuzz::is_well_formed_utf8;

bool is_payload_name(std::string_view name) {
  return ChatStream::descriptor()->FindFieldByName(std::string(name)) != nullptr;
}

void check_refusal(std::string_view text, const std::string& why) {
  const chat::Error info = chat::proxy::describe_bad_frame(text, why);
  FUZZ_CHECK(info.code() == Error::INVALID_FRAME || info.code() == Error::UNKNOWN_PAYLOAD);
  FUZZ_CHECK(!info.message().empty());
  if (info.code() == Error::INVALID_FRAME) FUZZ_CHECK(info.frame().empty() || is_payload_name(info.frame()));
  FUZZ_CHECK(info.frame().size() <= chat::proxy::kMaxIdBytes && is_well_formed_utf8(info.frame()));

  // The client gets an error frame saying the same, never "{}".
  const chat::proxy::Frame frame = chat::proxy::make_error_frame(info);
  ChatStream back;
  FUZZ_CHECK(chat::json::decode(frame.json(), back).empty());
  FUZZ_CHECK(back.has_error());
  FUZZ_CHECK(back.error().code() == info.code());
  FUZZ_CHECK(back.error().message() == info.message());
  FUZZ_CHECK(back.error().frame() == info.frame());
}

using google::protobuf::util::MessageDifferencer;

// decode's fast path must not accept what protobuf refuses, or read it
// differently; where it gives up, protobuf's answer is the answer.
void check_same_as_reference(std::string_view text, const std::string& why, const ChatStream& frame) {
  ChatStream theirs;
  const std::string their_why = chat::json::reference::decode(text, theirs);
  FUZZ_CHECK(why == their_why);
  if (why.empty()) FUZZ_CHECK(MessageDifferencer::Equals(frame, theirs));
}

void check_round_trip(const ChatStream& frame) {
  const std::string json = chat::json::encode(frame);
  ChatStream again;
  FUZZ_CHECK(chat::json::decode(json, again).empty());
  FUZZ_CHECK(MessageDifferencer::Equals(frame, again));
  FUZZ_CHECK(chat::json::payload_name(again) == chat::json::payload_name(frame));
  FUZZ_CHECK(boost::json::parse(json) == boost::json::parse(chat::json::reference::encode(frame)));

  std::string wire;
  FUZZ_CHECK(frame.SerializeToString(&wire));
  ChatStream from_wire;
  FUZZ_CHECK(from_wire.ParseFromString(wire));
  FUZZ_CHECK(MessageDifferencer::Equals(frame, from_wire));
}

// check_id against what it promises, for one id of a client frame.
void check_id_verdict(const std::string& value, std::string_view field, bool required) {
  const auto refused = chat::proxy::check_id(value, field, "frame", required);
  const bool fits = value.size() <= chat::proxy::kMaxIdBytes;
  const bool utf8 = is_well_formed_utf8(value);
  const bool nul = value.find('\0') != std::string::npos;  // no store can keep U+0000
  if (value.empty()) {
    FUZZ_CHECK(refused.has_value() == required);
    if (refused) FUZZ_CHECK(refused->code() == Error::MISSING_FIELD);
  } else if (fits && utf8 && !nul) {
    FUZZ_CHECK(!refused.has_value());
  } else {
    FUZZ_CHECK(refused.has_value());
    FUZZ_CHECK(refused->code() == (fits ? Error::INVALID_UTF8 : Error::TOO_LARGE));
  }
  if (refused) {
    FUZZ_CHECK(refused->message().starts_with(field));
    FUZZ_CHECK(refused->frame() == "frame");
  }
}

void check_ids(const ChatStream& frame) {
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage:
      check_id_verdict(frame.chat_message().room_id(), "room_id", true);
      check_id_verdict(frame.chat_message().sender_id(), "sender_id", true);
      check_id_verdict(frame.chat_message().id(), "id", false);
      break;
    case ChatStream::kJoin:
      check_id_verdict(frame.join().room_id(), "room_id", true);
      check_id_verdict(frame.join().user_id(), "user_id", true);
      break;
    case ChatStream::kLeave:
      check_id_verdict(frame.leave().room_id(), "room_id", true);
      check_id_verdict(frame.leave().user_id(), "user_id", true);
      break;
    default: break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool utf8 = is_well_formed_utf8(text);
  FUZZ_CHECK(chat::proxy::is_valid_utf8(text) == utf8);

  ChatStream frame;
  const std::string why = chat::json::decode(text, frame);
  if (!utf8) {
    // Not a text frame the bridge can get; still must not crash.
    if (!why.empty()) static_cast<void>(chat::proxy::describe_bad_frame(text, why));
    return 0;
  }
  check_same_as_reference(text, why, frame);
  if (!why.empty()) {
    check_refusal(text, why);
    return 0;
  }
  check_round_trip(frame);
  check_ids(frame);
  return 0;
}
