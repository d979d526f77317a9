// A WebSocket client as the chat side of the proxy sees it: something to
// send frames to (Client), whose frames are routed (RoutedClient). WsSession
// implements both; the upstream links hold Clients.
#pragma once

#include "client_kind.hpp"
#include "client_state.hpp"
#include "frames.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace chat::proxy {

class Client {
 public:
  virtual ~Client() = default;

  // Unique for the life of the proxy.
  virtual std::uint64_t id() const = 0;
  // Queues a frame for the client. On the thread of the client's shard
  // (Fanout takes frames there); never blocks, never calls back.
  virtual void send(Frame frame) = 0;
  // Queues a frame of a replay the client asked for (a join with `since`, or
  // the gap after the proxy's link to the chat service came back). A replay
  // comes from the chat service far faster than any client reads it, so its
  // frames count against the queue's byte bound only, not its frame bound.
  virtual void send_replayed(Frame frame) { send(std::move(frame)); }
  // A messages-only client gets chat messages, errors and service status
  // only: no joined, presence, typing or ack frames it would not understand
  // (client_kind.hpp).
  virtual ClientKind kind() const = 0;
  bool speaks_full_protocol() const { return kind() == ClientKind::full_protocol; }
  // The I/O shard the client lives on (io_shards.hpp): frames for the
  // clients of one shard travel there together (fanout.hpp).
  virtual std::size_t shard() const { return 0; }
};

using ClientPtr = std::shared_ptr<Client>;
using ClientWeak = std::weak_ptr<Client>;

// A client whose frames the proxy checks and routes (FrameRouter): who it
// is in the chat, and the switch to the full protocol once it joins as
// someone. Used on the client's session thread only.
class RoutedClient : public Client {
 public:
  virtual ClientState& chat_state() = 0;
  virtual void set_full_protocol() = 0;
};

using RoutedClientPtr = std::shared_ptr<RoutedClient>;

}  // namespace chat::proxy
