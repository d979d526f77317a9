// The query strings of GET /history and GET /history/senders, checked and
// turned into the chat service request they ask for, or the parameter that
// is wrong and why.
//
// GET /history:
//   room=R     required: the room, 1..128 bytes of UTF-8
//   user=U     only this sender's messages (1..128 bytes of UTF-8)
//   limit=N    1..1000, default 50
//   before=S   only messages with sequence < S (S >= 1)
//   after=S    read forwards from just after S (after=0: from the room's start)
//   access_token=T  the bearer token, when token authentication is on;
//                   checked by HttpApi, ignored here
//
// GET /history/senders:
//   room=R     required, as above
//   limit=N    1..1000, default 200
//   access_token=T  as above
//
// Every parameter at most once; anything else is refused, so a typo
// ("limt=5") is an error instead of a silently ignored filter.
#pragma once

#include "chat.pb.h"
#include "chat_ids.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace chat::history_http {

inline constexpr std::uint32_t kDefaultHistoryLimit = 50;
inline constexpr std::uint32_t kMaxHistoryLimit = 1000;
inline constexpr std::uint32_t kDefaultSendersLimit = 200;
inline constexpr std::uint32_t kMaxSendersLimit = 1000;
using chat::kMaxIdBytes;

struct QueryError {
  std::string parameter;  // the offending parameter's name (printable ASCII, at most 64 bytes)
  std::string message;    // for people, e.g. "limit must be an integer from 1 to 1000"
};

using HistoryQuery = std::variant<chat::GetChatHistoryRequest, QueryError>;
using SendersQuery = std::variant<chat::GetRoomSendersRequest, QueryError>;

// `query`: what follows '?' in the request target, still percent-encoded
// (may be empty).
HistoryQuery parse_history_query(std::string_view query);
SendersQuery parse_senders_query(std::string_view query);

}  // namespace chat::history_http
