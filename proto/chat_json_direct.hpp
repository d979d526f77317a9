// The chat protocol's JSON written field by field, without reflection or a
// JSON tree (chat_message_json.cpp): the message every delivery and every
// history page carries, and RFC 3339 timestamps. Internal to chat_json.cpp.
#pragma once

#include "chat.pb.h"

#include <string>

namespace chat::json::direct {

// `m` as JSON appended to `out`; false (and `out` partly written) when it
// needs the general way (invalid UTF-8, a timestamp out of range).
bool append_chat_message(const ChatMessage& m, std::string& out);
// A google.protobuf.Timestamp as protobuf's JSON writes it; false when
// `message` is not one, or out of the range protobuf accepts.
bool timestamp_text(const google::protobuf::Message& message, std::string& out);

}  // namespace chat::json::direct
