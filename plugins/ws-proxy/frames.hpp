// What the proxy sends to WebSocket clients: frames serialized once (proto3
// JSON of chat.ChatStream) and shared by every recipient, and the error
// frames it answers bad input with.
#pragma once

#include "chat_errors.hpp"
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

// An error event for a client (chat::make_error, with the refused frame's
// message, room and user when it had them).
Frame make_error_frame(const Error& error);

// Why a text frame that chat::json::decode refused is wrong: invalid JSON
// (INVALID_FRAME), an unknown payload such as {"foo":{}} (UNKNOWN_PAYLOAD),
// or a known payload of the wrong shape (INVALID_FRAME). `parse_error` is
// decode's message.
Error describe_bad_frame(std::string_view text, std::string_view parse_error);

using chat::check_id;  // an id of chat.proto as every part checks it

// Names the refused frame's message, room and user in `error`, each only
// when it is a usable id, so the client can tell which message failed.
void name_refused(Error& error, const std::string& id, const std::string& room, const std::string& user);

using chat::text::is_valid_utf8;

}  // namespace chat::proxy
