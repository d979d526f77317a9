// The two kinds of client of the chat protocol (docs/protocol.md, "Two
// kinds of client"). A client starts messages-only: it sends chat_message
// frames and gets chat messages and errors back (and, over WebSocket,
// service_status), the frame set of the protocol's first clients, which
// parse nothing else. Once it joins (a join frame, or ?user= or ?room= on
// the WebSocket URL) it speaks the full protocol and also gets joined,
// presence, typing and acks.
#pragma once

#include <cstdint>

namespace chat {

enum class ClientKind : std::uint8_t { messages_only, full_protocol };

}  // namespace chat
