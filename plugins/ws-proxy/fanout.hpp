// Frames from the chat service on their way to WebSocket clients, handed to
// each I/O shard once: a room's message takes one post per shard that has
// members in the room, carrying the one shared frame and the list of those
// members, and the shard's own thread queues it for each of them. The
// thread that read the message from the chat service does no per-client
// work, and a shard is entered once per message, not once per client.
//
// Every frame from an upstream link to a client goes this way, one client
// or many, so each client gets them in the order the link handled them.
//
// A Burst gathers what one thread sends while it lives (the events of one
// message from the chat service, a batch of them at load) into one post per
// shard: the shard queues them all before any client's write starts, so a
// client's frames of the burst leave in one write, not one write each.
#pragma once

#include "client.hpp"

#include <boost/asio/any_io_executor.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace chat::proxy {

// How a frame is queued for each recipient.
enum class Delivery {
  live,      // Client::send
  replayed,  // Client::send_replayed: a replay the client asked for
  event,     // Client::send, to full-protocol clients only (client_kind.hpp)
};

class Fanout {
 public:
  using Recipients = std::vector<ClientPtr>;

  // One executor per shard, indexed as Client::shard(). Without any, frames
  // are queued at once on the caller's thread (tests and benchmarks).
  explicit Fanout(std::vector<boost::asio::any_io_executor> shards = {});

  std::size_t shards() const { return shards_.empty() ? 1 : shards_.size(); }
  // `frame` to each of `recipients`, who all live on `shard`; any thread.
  void send(std::size_t shard, std::shared_ptr<const Recipients> recipients, Frame frame, Delivery how) const;
  // `frame` to one client; any thread.
  void send(const ClientPtr& client, Frame frame, Delivery how = Delivery::live) const;

  // While one lives, this thread's sends to shards are held and posted
  // together, in order, when it ends. Not nested; one per thread at a time.
  class Burst;

 private:
  // One send: a frame for a room's members on one shard, or for one client.
  struct Item {
    std::shared_ptr<const Recipients> recipients;  // or:
    ClientPtr client;
    Frame frame;
    Delivery how;
  };
  // Queues `item` for its clients; on their shard's thread.
  static void deliver(const Item& item);
  // `item` to `shard`: held by this thread's open Burst, or posted now.
  void hand_over(std::size_t shard, Item item) const;

  std::vector<boost::asio::any_io_executor> shards_;
};

class Fanout::Burst {
 public:
  explicit Burst(const Fanout& fanout);
  ~Burst();
  Burst(const Burst&) = delete;
  Burst& operator=(const Burst&) = delete;

 private:
  friend class Fanout;
  const Fanout& fanout_;
  std::vector<std::vector<Item>> per_shard_;
};

}  // namespace chat::proxy
