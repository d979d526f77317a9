#include "frame_validation.hpp"

#include <string>

namespace chat::service {
namespace {

// U+0000 in content: refused as chat::check_id refuses it in ids.
std::string nul_refused(std::string_view field) {
  return std::string(field) + " contains U+0000 (NUL), which chat does not store";
}

}  // namespace

std::optional<Error> check_chat_message(const ChatMessage& message, const ServiceLimits& limits) {
  constexpr std::string_view frame = "chat_message";
  std::optional<Error> error;
  if (!error) error = check_id(message.room_id(), "room_id", frame);
  if (!error) error = check_id(message.sender_id(), "sender_id", frame);
  if (!error) error = check_id(message.id(), "id", frame, /*required=*/false);
  if (!error) {
    if (message.content().empty()) {
      error = make_error(Error::MISSING_FIELD, "content is required", frame);
    } else if (message.content().size() > limits.max_content_bytes) {
      error = make_error(Error::TOO_LARGE,
                         "content is " + std::to_string(message.content().size()) + " bytes; the limit is " +
                             std::to_string(limits.max_content_bytes),
                         frame);
    } else if (!is_valid_utf8(message.content())) {
      error = make_error(Error::INVALID_UTF8, "content is not valid UTF-8", frame);
    } else if (message.content().find('\0') != std::string::npos) {
      error = make_error(Error::INVALID_UTF8, nul_refused("content"), frame);
    }
  }
  if (error) {
    // Name the refused message so its sender can mark it failed.
    if (is_valid_utf8(message.id()) && message.id().size() <= kMaxIdBytes) error->set_id(message.id());
    if (is_valid_utf8(message.room_id()) && message.room_id().size() <= kMaxIdBytes)
      error->set_room_id(message.room_id());
    if (is_valid_utf8(message.sender_id()) && message.sender_id().size() <= kMaxIdBytes)
      error->set_user_id(message.sender_id());
  }
  return error;
}

std::optional<Error> check_join(const Join& join) {
  auto error = check_id(join.room_id(), "room_id", "join");
  if (!error) error = check_id(join.user_id(), "user_id", "join");
  return error;
}

std::optional<Error> check_leave(const Leave& leave) {
  auto error = check_id(leave.room_id(), "room_id", "leave");
  if (!error) error = check_id(leave.user_id(), "user_id", "leave");
  return error;
}

std::optional<Error> check_typing(const Typing& typing) {
  auto error = check_id(typing.room_id(), "room_id", "typing");
  if (!error) error = check_id(typing.user_id(), "user_id", "typing");
  return error;
}

}  // namespace chat::service
