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
      for (const auto& item : items) {
        if (item.recipients) {
          for (const auto& client : *item.recipients) queue_for(*client, item.frame, item.how);
        } else {
          queue_for(*item.client, item.frame, item.how);
        }
      }
    });
  }
}

Fanout::Burst* Fanout::open_burst() const {
  Burst* burst = burst_on_this_thread;
  return burst != nullptr && &burst->fanout_ == this && !shards_.empty() ? burst : nullptr;
}

Fanout::Fanout(std::vector<boost::asio::any_io_executor> shards) : shards_(std::move(shards)) {}

void Fanout::send(std::size_t shard, std::shared_ptr<const Recipients> recipients, Frame frame, Delivery how) const {
  if (shards_.empty()) {
    for (const auto& client : *recipients) queue_for(*client, frame, how);
    return;
  }
  if (Burst* burst = open_burst()) {
    burst->per_shard_[shard].push_back({std::move(recipients), nullptr, std::move(frame), how});
    return;
  }
  boost::asio::post(shards_[shard], [recipients = std::move(recipients), frame = std::move(frame), how] {
    for (const auto& client : *recipients) queue_for(*client, frame, how);
  });
}

void Fanout::send(const ClientPtr& client, Frame frame, Delivery how) const {
  if (shards_.empty()) return queue_for(*client, frame, how);
  if (Burst* burst = open_burst()) {
    burst->per_shard_[client->shard()].push_back({nullptr, client, std::move(frame), how});
    return;
  }
  boost::asio::post(shards_[client->shard()], [client, frame = std::move(frame), how] { queue_for(*client, frame, how); });
}

}  // namespace chat::proxy
