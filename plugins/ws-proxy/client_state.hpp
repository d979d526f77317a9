// What a connection is in the chat, as the router of its frames keeps it:
// who it speaks as, how many rooms it is in (which ones, the upstream links
// keep: upstream_link.hpp), what its token opens. Touched on its session's
// thread only.
#pragma once

#include "auth/room_grant.hpp"

#include <chrono>
#include <map>
#include <cstddef>
#include <string>

namespace chat::proxy {

struct ClientState {
  std::string user;  // fixed by ?user=, the first join or the first message
  std::size_t rooms = 0;  // rooms it is in, against max_rooms_per_connection
  chat::auth::RoomGrant granted;  // the token's rooms (every room without tokens)
  // room -> when this connection's last "typing" there went upstream: one a
  // second is enough for anyone (the chat service passes no more on). Only
  // rooms it is in: leaving one forgets it.
  std::map<std::string, std::chrono::steady_clock::time_point> typing_passed;
};

}  // namespace chat::proxy
