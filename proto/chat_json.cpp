#include "chat_json.hpp"

#include <google/protobuf/util/json_util.h>

namespace chat::json {

std::string encode(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";  // only for messages with invalid UTF-8, which never get this far
  return out;
}

std::string decode(std::string_view text, google::protobuf::Message& message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(text.data(), text.size()), &message, options);
  if (status.ok()) return {};
  return std::string(status.message());
}

std::string_view payload_name(const ChatStream& frame) {
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage: return "chat_message";
    case ChatStream::kJoin: return "join";
    case ChatStream::kLeave: return "leave";
    case ChatStream::kJoined: return "joined";
    case ChatStream::kPresence: return "presence";
    case ChatStream::kAck: return "ack";
    case ChatStream::kError: return "error";
    case ChatStream::kServiceStatus: return "service_status";
    case ChatStream::PAYLOAD_NOT_SET: return "";
  }
  return "";
}

}  // namespace chat::json
