// ws-proxy's LocalRoom, the local members of one room on one link: what it
// hands each member, without sockets or threads (Fanout without shards
// queues at once).
#include "fanout.hpp"
#include "frames.hpp"
#include "local_room.hpp"
#include "support/recording_client.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using chat::ChatStream;

using chat::test::RecordingClient;

TEST(LocalRoom, OneSerializedFrameIsSharedByEveryLiveMemberOfTheRoom) {
  const chat::proxy::Fanout inline_fanout;  // no shards: queued at once
  chat::proxy::LocalRoom room(inline_fanout);
  using chat::ClientKind;
  auto member = [&room](std::uint64_t id, ClientKind kind, bool live) {
    auto client = std::make_shared<RecordingClient>(id, kind);
    room.set_live(*room.add(client, "u" + std::to_string(id)).first, live);
    return client;
  };
  auto alice = member(1, ClientKind::full_protocol, true);
  auto bob = member(2, ClientKind::full_protocol, true);
  auto legacy = member(3, ClientKind::messages_only, true);  // chat messages only
  auto joining = member(4, ClientKind::full_protocol, false);  // waits for its own replay

  ChatStream event;
  auto* message = event.mutable_chat_message();
  message->set_room_id("r");
  message->set_sender_id("u1");
  message->set_content("hi");
  message->set_id("m1");
  message->set_sequence(1);
  const chat::proxy::Frame frame = chat::proxy::make_frame(event);
  room.deliver(event.chat_message(), frame);
  for (const auto& client : {alice, bob, legacy}) {
    ASSERT_EQ(client->frames.size(), 1U) << client->id();
    EXPECT_TRUE(client->frames[0].shares_buffer_with(frame)) << client->id() << " got a copy, not the shared buffer";
  }
  EXPECT_TRUE(joining->frames.empty());

  // A replay overlapping live traffic: nothing twice.
  room.deliver(event.chat_message(), chat::proxy::make_frame(event));
  EXPECT_EQ(alice->frames.size(), 1U);

  // Presence and the like: shared too, and only for clients that speak events.
  const auto presence = chat::proxy::make_frame(ChatStream{});
  room.tell_live_members(presence);
  EXPECT_TRUE(alice->frames.back().shares_buffer_with(presence));
  EXPECT_TRUE(bob->frames.back().shares_buffer_with(presence));
  EXPECT_EQ(legacy->frames.size(), 1U);
  EXPECT_TRUE(joining->frames.empty());
}

}  // namespace
