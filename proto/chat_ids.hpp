// The ids of chat.proto (a room_id, sender_id or user_id, a message's id):
// at most this many bytes of UTF-8, wherever one comes in (the chat
// service, the WebSocket bridge, the history endpoint).
#pragma once

#include <cstddef>

namespace chat {

inline constexpr std::size_t kMaxIdBytes = 128;

}  // namespace chat
