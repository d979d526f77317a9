// The grpc-chat limits, read from its config table once at configure().
#pragma once

#include <cstddef>
#include <cstdint>

namespace chat::service {

struct ServiceLimits {
  std::size_t max_content_bytes = 4096;
  std::size_t max_id_bytes = 128;         // room_id, sender_id, user_id, message id
  std::uint64_t max_replay = 10000;       // longer recovery gaps answer history_gap
  std::size_t max_batch = 1024;           // messages per group commit
  std::size_t stream_queue_limit = 100000;  // outgoing events per stream before it is dropped
  std::size_t max_pending_per_stream = 1024;  // uncommitted messages before reading pauses
};

}  // namespace chat::service
