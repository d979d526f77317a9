#include "frame_validation.hpp"

#include <string>

namespace chat::service {
namespace {

// U+0000 is valid UTF-8 but no text column of PostgreSQL can hold it: every
// store refuses it alike, so a message never stores in one and not another.
std::string nul_refused(std::string_view field) {
  return std::string(field) + " contains U+0000 (NUL), which chat does not store";
}

// An identifier: present, not too long, valid UTF-8.
std::optional<Error> check_id(std::string_view value, std::string_view field, std::string_view frame,
                              const ServiceLimits& limits, bool required = true) {
  if (value.empty()) {
    if (!required) return std::nullopt;
    return make_error(Error::MISSING_FIELD, std::string(field) + " is required", frame);
  }
  if (value.size() > limits.max_id_bytes) {
    return make_error(Error::TOO_LARGE,
                      std::string(field) + " is longer than " + std::to_string(limits.max_id_bytes) + " bytes", frame);
  }
  if (!is_valid_utf8(value)) {
    return make_error(Error::INVALID_UTF8, std::string(field) + " is not valid UTF-8", frame);
  }
  if (value.find('\0') != std::string_view::npos) return make_error(Error::INVALID_UTF8, nul_refused(field), frame);
  return std::nullopt;
}

}  // namespace

Error make_error(Error::Code code, std::string message, std::string_view frame) {
  Error error;
  error.set_code(code);
  error.set_message(std::move(message));
  error.set_frame(std::string(frame));
  return error;
}

std::optional<Error> check_chat_message(const ChatMessage& message, const ServiceLimits& limits) {
  constexpr std::string_view frame = "chat_message";
  std::optional<Error> error;
  if (!error) error = check_id(message.room_id(), "room_id", frame, limits);
  if (!error) error = check_id(message.sender_id(), "sender_id", frame, limits);
  if (!error) error = check_id(message.id(), "id", frame, limits, /*required=*/false);
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
    if (is_valid_utf8(message.id()) && message.id().size() <= limits.max_id_bytes) error->set_id(message.id());
    if (is_valid_utf8(message.room_id()) && message.room_id().size() <= limits.max_id_bytes)
      error->set_room_id(message.room_id());
    if (is_valid_utf8(message.sender_id()) && message.sender_id().size() <= limits.max_id_bytes)
      error->set_user_id(message.sender_id());
  }
  return error;
}

std::optional<Error> check_join(const Join& join, const ServiceLimits& limits) {
  auto error = check_id(join.room_id(), "room_id", "join", limits);
  if (!error) error = check_id(join.user_id(), "user_id", "join", limits);
  return error;
}

std::optional<Error> check_leave(const Leave& leave, const ServiceLimits& limits) {
  auto error = check_id(leave.room_id(), "room_id", "leave", limits);
  if (!error) error = check_id(leave.user_id(), "user_id", "leave", limits);
  return error;
}

std::optional<Error> check_typing(const Typing& typing, const ServiceLimits& limits) {
  auto error = check_id(typing.room_id(), "room_id", "typing", limits);
  if (!error) error = check_id(typing.user_id(), "user_id", "typing", limits);
  return error;
}

}  // namespace chat::service
