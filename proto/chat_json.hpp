// The JSON mapping of the chat protocol: proto3 canonical JSON with the proto
// field names (snake_case), as the protocol's first WebSocket clients write frames.
// Parsing also accepts lowerCamelCase names.
#pragma once

#include "chat.pb.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace chat::json {

// One line of JSON (no newline), proto field names, default values omitted.
std::string encode(const google::protobuf::Message& message);
// The same for a chat message, appended to `out` (a page of them, say).
void append(const ChatMessage& message, std::string& out);
// About how many bytes encode(message) takes: enough for its ids and names,
// for reserving a buffer ahead (a page of them, say) without a size pass.
std::size_t json_size_hint(const ChatMessage& message);

// Parses `text` into `message`. Returns "" on success, else why it failed
// (for an error frame): invalid JSON, an unknown field, a wrong type.
std::string decode(std::string_view text, google::protobuf::Message& message);

// protobuf's own printer and parser: what encode and decode must agree with
// (they fall back to these for anything out of the ordinary). For tests and
// benchmarks.
namespace reference {
std::string encode(const google::protobuf::Message& message);
std::string decode(std::string_view text, google::protobuf::Message& message);
}  // namespace reference

// A frame's payload field name, e.g. "chat_message" ("" when none), as
// error frames name the frame they refuse.
std::string_view payload_name(const ChatStream& frame);

}  // namespace chat::json
