#include "fanout.hpp"

#include <boost/asio/post.hpp>

#include <utility>

namespace chat::proxy {
namespace {

void queue_for(Client& client, const Frame& frame, Delivery how) {
  switch (how) {
    case Delivery::live: client.send(frame); return;
    case Delivery::replayed: client.send_replayed(frame); return;
    case Delivery::event:
      if (client.speaks_full_protocol()) client.send(frame);
      return;
  }
}

}  // namespace

Fanout::Fanout(std::vector<boost::asio::any_io_executor> shards) : shards_(std::move(shards)) {}

void Fanout::send(std::size_t shard, std::shared_ptr<const Recipients> recipients, Frame frame, Delivery how) const {
  if (shards_.empty()) {
    for (const auto& client : *recipients) queue_for(*client, frame, how);
    return;
  }
  boost::asio::post(shards_[shard], [recipients = std::move(recipients), frame = std::move(frame), how] {
    for (const auto& client : *recipients) queue_for(*client, frame, how);
  });
}

void Fanout::send(const ClientPtr& client, Frame frame, Delivery how) const {
  if (shards_.empty()) return queue_for(*client, frame, how);
  boost::asio::post(shards_[client->shard()], [client, frame = std::move(frame), how] { queue_for(*client, frame, how); });
}

}  // namespace chat::proxy
