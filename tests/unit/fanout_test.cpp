// ws-proxy's Fanout with a real shard (an io_context run by the test): what
// a Burst holds back and hands the shard in one post.
#include "fanout.hpp"
#include "frames.hpp"
#include "support/recording_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using chat::proxy::Delivery;
using chat::proxy::Fanout;
using chat::proxy::Frame;
using chat::test::RecordingClient;

struct OneShard {
  boost::asio::io_context shard;
  Fanout fanout{{shard.get_executor()}};
  std::vector<std::string> ran;  // what the shard ran, in order
  std::shared_ptr<RecordingClient> client = std::make_shared<RecordingClient>(1, chat::ClientKind::full_protocol);

  OneShard() {
    client->on_send = [this](const Frame& frame) { ran.push_back(std::string(frame.json())); };
  }
  void other_work() {
    boost::asio::post(shard, [this] { ran.emplace_back("other"); });
  }
  void send_both_ways(const std::string& first, const std::string& second) {
    fanout.send(client, Frame::text(first));
    other_work();
    const auto recipients = std::make_shared<const Fanout::Recipients>(Fanout::Recipients{client});
    fanout.send(0, recipients, Frame::text(second), Delivery::live);
  }
};

TEST(Fanout, WithoutABurstEachSendIsItsOwnPostOnTheShard) {
  OneShard s;
  s.send_both_ways("a", "b");
  s.shard.run();
  EXPECT_EQ(s.ran, (std::vector<std::string>{"a", "other", "b"}));
}

TEST(Fanout, WhatABurstSendsReachesTheShardTogetherInOrderWhenItEnds) {
  OneShard s;
  {
    const Fanout::Burst burst(s.fanout);
    s.send_both_ways("a", "b");
    s.shard.poll();  // only the other work is there yet
    EXPECT_EQ(s.ran, (std::vector<std::string>{"other"}));
  }
  s.shard.restart();  // poll() ran out of work, which stops an io_context
  s.shard.run();
  EXPECT_EQ(s.ran, (std::vector<std::string>{"other", "a", "b"}));
}

TEST(Fanout, ABurstOfAnotherFanoutHoldsNothingOfThisOne) {
  OneShard s;
  boost::asio::io_context elsewhere;
  const Fanout other_fanout({elsewhere.get_executor()});
  {
    const Fanout::Burst burst(other_fanout);
    s.send_both_ways("a", "b");
  }
  s.shard.run();
  EXPECT_EQ(s.ran, (std::vector<std::string>{"a", "other", "b"}));
}

}  // namespace
