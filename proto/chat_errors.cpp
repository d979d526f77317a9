#include "chat_errors.hpp"

#include "chat_ids.hpp"
#include "chat_text.hpp"

#include <utility>

namespace chat {

Error make_error(Error::Code code, std::string message, std::string_view frame) {
  Error error;
  error.set_code(code);
  error.set_message(std::move(message));
  error.set_frame(std::string(frame));
  return error;
}

Error about(Error error, std::string_view frame, std::string_view room_id, std::string_view user_id) {
  error.set_frame(std::string(frame));
  error.set_room_id(std::string(room_id));
  error.set_user_id(std::string(user_id));
  return error;
}

ChatStream error_event(Error error) {
  ChatStream event;
  *event.mutable_error() = std::move(error);
  return event;
}

std::optional<Error> check_id(std::string_view value, std::string_view field, std::string_view frame,
                              bool required) {
  if (value.empty()) {
    if (!required) return std::nullopt;
    return make_error(Error::MISSING_FIELD, std::string(field) + " is required", frame);
  }
  if (value.size() > kMaxIdBytes) {
    return make_error(Error::TOO_LARGE, std::string(field) + " is longer than " + std::to_string(kMaxIdBytes) + " bytes",
                      frame);
  }
  if (!text::is_valid_utf8(value)) {
    return make_error(Error::INVALID_UTF8, std::string(field) + " is not valid UTF-8", frame);
  }
  // U+0000 is valid UTF-8, but no text column of PostgreSQL can hold it:
  // refused alike everywhere, a message never stores in one store and not another.
  if (value.find('\0') != std::string_view::npos) {
    return make_error(Error::INVALID_UTF8, std::string(field) + " contains U+0000 (NUL), which chat does not store",
                      frame);
  }
  return std::nullopt;
}

}  // namespace chat
