// What a connection is in the chat, as the router of its frames keeps it:
// who it speaks as, its rooms, what its token opens. Touched on its
// session's thread only.
#pragma once

#include "auth/room_grant.hpp"

#include <chrono>
#include <map>
#include <set>
#include <string>

namespace chat::proxy {

struct ClientState {
  std::string user;  // fixed by ?user=, the first join or the first message
  std::set<std::string> rooms;
  chat::auth::RoomGrant granted;  // the token's rooms (every room without tokens)
  // room -> when this connection's last "typing" there went upstream: one a
  // second is enough for anyone (the chat service passes no more on).
  std::map<std::string, std::chrono::steady_clock::time_point> typing_passed;
};

}  // namespace chat::proxy
