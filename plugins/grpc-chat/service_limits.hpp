// The grpc-chat limits, read from its config table once at configure(): a
// key fills each field but one (ConfigKey::into in config_keys.cpp,
// where the defaults are).
#pragma once

#include <cstddef>
#include <cstdint>

namespace chat::service {

struct ServiceLimits {
  std::size_t max_content_bytes = 0;
  std::uint64_t max_replay = 0;           // longer recovery gaps answer history_gap
  std::size_t max_batch = 0;              // messages per group commit
  std::size_t stream_queue_limit = 0;     // outgoing events per stream before it is dropped
  std::size_t max_pending_per_stream = 1024;  // uncommitted messages before reading pauses (fixed)
  // Bytes of one history page at most (store::page_bytes, about its JSON).
  std::size_t max_history_page_bytes = 0;
  // Names in a presence snapshot at most (online_count tells the rest).
  std::size_t presence_list_max = 0;
  // Any stream, a bridge's too: (room, user) memberships at most.
  std::size_t max_memberships_per_stream = 0;
  // A stream of a caller that is no bridge (caller_policy.hpp) is one user,
  // with the limits of one WebSocket connection.
  std::size_t user_stream_max_rooms = 0;
  double user_stream_messages_per_second = 0;  // frames, sustained
  double user_stream_message_burst = 0;        // frames, at once
  std::size_t user_stream_rate_limit_strikes = 0;  // refused in a row before the stream ends
};

}  // namespace chat::service
