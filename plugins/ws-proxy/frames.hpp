// What the proxy sends to WebSocket clients: frames serialized once (proto3
// JSON of chat.ChatStream) and shared by every recipient, and the error
// frames it answers bad input with.
#pragma once

#include "chat_ids.hpp"
#include "chat_json.hpp"
#include "chat_text.hpp"

#include "chat.pb.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace chat::proxy {

using chat::json::payload_name;

// One text frame as it goes on the wire: the WebSocket header, then the
// proto3 JSON of a chat.ChatStream. Serialized once; every recipient shares
// the same buffer, and a session writes many of them with one system call.
class Frame {
 public:
  Frame() = default;
  static Frame text(std::string_view json);

  explicit operator bool() const { return bytes_ != nullptr; }
  std::string_view wire() const { return *bytes_; }
  std::string_view json() const { return std::string_view(*bytes_).substr(header_bytes_); }
  bool shares_buffer_with(const Frame& other) const { return bytes_ == other.bytes_; }

 private:
  std::shared_ptr<const std::string> bytes_;
  std::size_t header_bytes_ = 0;
};

using chat::kMaxIdBytes;

Frame make_frame(const ChatStream& event);

// An error event; `id`, `room_id` and `user_id` name the refused frame's
// message, room and user when it had them.
struct ErrorInfo {
  Error::Code code = Error::UNSPECIFIED;
  std::string message;
  std::string frame;  // payload kind of the refused frame, e.g. "chat_message"
  std::string id;
  std::string room_id;
  std::string user_id;
};
Frame make_error_frame(const ErrorInfo& info);
ErrorInfo refusal(Error::Code code, std::string message, std::string frame = {});

// Why a text frame that chat::json::decode refused is wrong: invalid JSON
// (INVALID_FRAME), an unknown payload such as {"foo":{}} (UNKNOWN_PAYLOAD),
// or a known payload of the wrong shape (INVALID_FRAME). `parse_error` is
// decode's message.
ErrorInfo describe_bad_frame(std::string_view text, std::string_view parse_error);

// An identifier: present (unless optional), at most kMaxIdBytes, valid UTF-8.
std::optional<ErrorInfo> check_id(std::string_view value, std::string_view field, std::string_view frame,
                                  bool required = true);

using chat::text::is_valid_utf8;

}  // namespace chat::proxy
