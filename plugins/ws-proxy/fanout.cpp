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

thread_local Fanout::Burst* burst_on_this_thread = nullptr;

}  // namespace

Fanout::Burst::Burst(const Fanout& fanout) : fanout_(fanout), per_shard_(fanout.shards_.size()) {
  if (burst_on_this_thread == nullptr) burst_on_this_thread = this;
}

Fanout::Burst::~Burst() {
  if (burst_on_this_thread != this) return;
  burst_on_this_thread = nullptr;
  for (std::size_t shard = 0; shard < per_shard_.size(); ++shard) {
    if (per_shard_[shard].empty()) continue;
    boost::asio::post(fanout_.shards_[shard], [items = std::move(per_shard_[shard])] {
      for (const auto& item : items) deliver(item);
    });
  }
}

Fanout::Fanout(std::vector<boost::asio::any_io_executor> shards) : shards_(std::move(shards)) {}

void Fanout::deliver(const Item& item) {
  if (item.recipients) {
    for (const auto& client : *item.recipients) queue_for(*client, item.frame, item.how);
  } else {
    queue_for(*item.client, item.frame, item.how);
  }
}

void Fanout::hand_over(std::size_t shard, Item item) const {
  Burst* burst = burst_on_this_thread;
  if (burst != nullptr && &burst->fanout_ == this) {
    burst->per_shard_[shard].push_back(std::move(item));
    return;
  }
  boost::asio::post(shards_[shard], [item = std::move(item)] { deliver(item); });
}

void Fanout::send(std::size_t shard, std::shared_ptr<const Recipients> recipients, Frame frame, Delivery how) const {
  if (shards_.empty()) {
    for (const auto& client : *recipients) queue_for(*client, frame, how);
    return;
  }
  hand_over(shard, {std::move(recipients), nullptr, std::move(frame), how});
}

void Fanout::send(const ClientPtr& client, Frame frame, Delivery how) const {
  if (shards_.empty()) return queue_for(*client, frame, how);
  hand_over(client->shard(), {nullptr, client, std::move(frame), how});
}

}  // namespace chat::proxy
