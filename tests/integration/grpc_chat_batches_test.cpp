// grpc-chat's batches (chat.Batch): a stream that asks with the metadata
// `chat-batches: 1` gets the events waiting for it packed into one message,
// in order; a stream that does not ask never sees one.
#include "frame_batches.hpp"  // from chat_proto
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"

#include <gtest/gtest.h>

namespace chathost::test {
namespace {

using chat::ChatStream;
using namespace std::chrono_literals;

class GrpcChatBatchesTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

TEST_F(GrpcChatBatchesTest, WhatWaitsForAStreamThatAskedComesInBatchesInOrder) {
  TestHost host(dir_.path(), {.name = "host", .plugins = {"grpc-chat"}, .tables = grpc_chat_table(0, service_token_key())});
  const std::uint16_t port = host.port("grpc-chat");

  // The reader asks for batches and, on a connection of its own, reads
  // nothing while the room fills: once its flow-control windows are full,
  // what the talker sends waits in grpc-chat's queue for the stream.
  grpc::ChannelArguments own;
  own.SetInt("chat-test-own-connection", 1);
  auto reader_channel =
      grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials(), own);
  auto stub = chat::ChatService::NewStub(reader_channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + test_service_token());
  chat::batches::ask(context);
  auto reader = stub->Chat(&context);
  ASSERT_TRUE(reader->Write(join("busy", "reader")));
  ChatStream event;
  ASSERT_TRUE(reader->Read(&event));
  ASSERT_TRUE(event.has_joined()) << event.ShortDebugString();

  ChatStreamClient talker(chat_channel("127.0.0.1", port), test_service_token());
  talker.send(join("busy", "talker"));
  ASSERT_TRUE(talker.wait_for(is_joined("busy")));
  constexpr int kMessages = 2000;
  const std::string content(4000, 'x');
  for (int group = 0; group < kMessages / 50; ++group) {
    for (int i = group * 50; i < (group + 1) * 50; ++i) {
      talker.send(chat_message("busy", "talker", content + std::to_string(i), "m" + std::to_string(i)));
    }
    ASSERT_TRUE(talker.wait_for(is_ack_for("m" + std::to_string(group * 50 + 49)))) << "group " << group;
  }

  // Every message once, in the order sent, whether alone or in a batch.
  std::vector<std::string> ids;
  std::size_t batches = 0;
  std::size_t largest = 0;
  const auto take = [&](const ChatStream& frame) {
    EXPECT_FALSE(frame.has_batch()) << "a batch holds no batch";
    if (frame.has_chat_message()) ids.push_back(frame.chat_message().id());
  };
  while (ids.size() < kMessages && reader->Read(&event)) {
    if (event.has_batch()) {
      ++batches;
      largest = std::max<std::size_t>(largest, event.batch().frames_size());
      for (const auto& frame : event.batch().frames()) take(frame);
    } else {
      take(event);
    }
  }
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) ASSERT_EQ(ids[i], "m" + std::to_string(i));
  EXPECT_GT(batches, 0U);
  EXPECT_GT(largest, 1U);

  // The talker did not ask: one event per message, as the first clients expect.
  EXPECT_TRUE(talker.events_matching([](const ChatStream& e) { return e.has_batch(); }).empty());
  EXPECT_EQ(talker.events_matching(is_message_in("busy")).size(), static_cast<std::size_t>(kMessages));

  // Batches go from the service only; one from a client is refused, the stream lives on.
  ChatStream batch;
  *batch.mutable_batch()->add_frames() = chat_message("busy", "talker", "packed", "packed");
  talker.send(batch);
  const auto refused = talker.wait_for(is_error());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().code(), chat::Error::UNKNOWN_PAYLOAD);
  EXPECT_EQ(refused->error().frame(), "batch");
  talker.send(chat_message("busy", "talker", "after", "after"));
  EXPECT_TRUE(talker.wait_for(is_ack_for("after")));
  context.TryCancel();
}

TEST_F(GrpcChatBatchesTest, AStreamThatAskedHearsSoAndMaySendBatchesTakenFrameByFrameInOrder) {
  TestHost host(dir_.path(), {.name = "host", .plugins = {"grpc-chat"}, .tables = grpc_chat_table(0, service_token_key())});
  auto stub = chat::ChatService::NewStub(chat_channel("127.0.0.1", host.port("grpc-chat")));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + test_service_token());
  chat::batches::ask(context);
  auto stream = stub->Chat(&context);
  // The service says it takes batches as soon as it takes the stream.
  stream->WaitForInitialMetadata();
  EXPECT_TRUE(chat::batches::answered(context));

  ChatStream batch;
  auto* frames = batch.mutable_batch()->mutable_frames();
  *frames->Add() = join("packed", "ann");
  for (int i = 0; i < 3; ++i) *frames->Add() = chat_message("packed", "ann", "m" + std::to_string(i), "m" + std::to_string(i));
  *frames->Add()->mutable_batch() = chat::Batch{};  // a batch holds no batch
  *frames->Add() = chat_message("packed", "ann", "last", "last");
  ASSERT_TRUE(stream->Write(batch));

  // Each frame answered as if it had come alone, in order: joined, the
  // refusal of the nested batch once the messages before it are taken,
  // and every message acknowledged in the order sent.
  std::vector<std::string> acks;
  bool joined = false;
  bool refused = false;
  ChatStream event;
  while (acks.size() < 4 && stream->Read(&event)) {
    const auto take = [&](const ChatStream& e) {
      if (e.has_joined()) joined = true;
      if (e.has_ack()) acks.push_back(e.ack().id());
      if (e.has_error()) {
        EXPECT_EQ(e.error().code(), chat::Error::UNKNOWN_PAYLOAD) << e.ShortDebugString();
        EXPECT_EQ(e.error().frame(), "batch");
        refused = true;
      }
    };
    if (event.has_batch()) {
      for (const auto& e : event.batch().frames()) take(e);
    } else {
      take(event);
    }
  }
  EXPECT_TRUE(joined);
  EXPECT_TRUE(refused);
  EXPECT_EQ(acks, (std::vector<std::string>{"m0", "m1", "m2", "last"}));
  context.TryCancel();
}

TEST_F(GrpcChatBatchesTest, AStreamThatDidNotAskHearsNothingOfBatches) {
  TestHost host(dir_.path(), {.name = "host", .plugins = {"grpc-chat"}, .tables = grpc_chat_table()});
  auto stub = chat::ChatService::NewStub(chat_channel("127.0.0.1", host.port("grpc-chat")));
  grpc::ClientContext context;
  auto stream = stub->Chat(&context);
  stream->WaitForInitialMetadata();
  EXPECT_FALSE(chat::batches::answered(context));
  context.TryCancel();
}

}  // namespace
}  // namespace chathost::test
