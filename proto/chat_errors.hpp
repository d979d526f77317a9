// The errors chat sends its clients, built one way by every part: the chat
// service and the WebSocket bridge refuse a frame with the same codes, the
// same words and the same checks of its ids.
#pragma once

#include "chat.pb.h"

#include <optional>
#include <string>
#include <string_view>

namespace chat {

// What went wrong (`code`, and `message` for people) with which frame
// (`frame`: its payload name, e.g. "chat_message"; empty when none). The
// caller adds the refused message's id, room and user when it has them.
Error make_error(Error::Code code, std::string message, std::string_view frame = {});

// `error`, naming the refused frame and the room and user it was about, so
// that the client can tell which of its requests failed.
Error about(Error error, std::string_view frame, std::string_view room_id, std::string_view user_id);

// The event that carries `error` to a client.
ChatStream error_event(Error error);

// An id of chat.proto (room_id, sender_id, user_id, a message's id), named
// `field` in `frame`: present (unless not `required`), at most kMaxIdBytes,
// valid UTF-8, and without U+0000, which no store can keep. The refusal, or
// nothing when it is fine.
std::optional<Error> check_id(std::string_view value, std::string_view field, std::string_view frame,
                              bool required = true);

}  // namespace chat
