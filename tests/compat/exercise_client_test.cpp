// The exercise's own clients keep working: this test is built from a copy of
// the exercise's original chat.proto (tests/compat/exercise_chat.proto) and
// knows nothing of the fields added since.
#include "exercise_chat.grpc.pb.h"
#include "support/host_process.hpp"
#include "support/test_helpers.hpp"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <csignal>

namespace chathost::test {
namespace {

TEST(ExerciseClient, ChatsAndReadsHistoryWithTheOriginalProto) {
  TempDir dir;
  write_file(dir / "chat.toml", R"([host]
plugins = ["grpc-chat"]

[grpc-chat]
admin_id = "admin1"
admin_name = "Admin"
admin_email = "admin@example.org"
host = "127.0.0.1"
port = 0
store = "memory"
)");
  HostProcess host({.executable = host_binary(),
                    .args = {"--config", (dir / "chat.toml").string()},
                    .unset_env = {"GRPC_HOST", "GRPC_PORT", "CHAT_STORE", "ADMIN_ID", "CHATHOST_PLUGINS"},
                    .working_dir = dir.path()});
  auto ready = host.wait_for_line(std::regex(R"(ready in \d+ ms: grpc-chat grpc://127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(ready) << host.output();
  auto channel = grpc::CreateChannel("127.0.0.1:" + (*ready)[1], grpc::InsecureChannelCredentials());
  auto stub = chat::ChatService::NewStub(channel);

  // Two exercise clients, one stream each, as the exercise's proxy opens them.
  grpc::ClientContext ctx1, ctx2;
  auto client1 = stub->Chat(&ctx1);
  auto client2 = stub->Chat(&ctx2);

  chat::ChatStream hello;
  auto* message = hello.mutable_chat_message();
  message->set_id("msg1");
  message->set_room_id("room1");
  message->set_sender_id("client1");
  message->set_content("Hello");
  chat::ChatStream hi = hello;
  hi.mutable_chat_message()->set_id("msg2");
  hi.mutable_chat_message()->set_sender_id("client2");
  hi.mutable_chat_message()->set_content("Hi there");

  ASSERT_TRUE(client2->Write(hi));  // client2 joins room1 by sending
  chat::ChatStream event;
  ASSERT_TRUE(client2->Read(&event));
  EXPECT_EQ(event.chat_message().id(), "msg2");

  ASSERT_TRUE(client1->Write(hello));
  ASSERT_TRUE(client1->Read(&event));  // the echo, with the id it chose
  EXPECT_EQ(event.chat_message().id(), "msg1");
  EXPECT_EQ(event.chat_message().content(), "Hello");
  ASSERT_TRUE(client2->Read(&event));  // delivered to the other member
  EXPECT_EQ(event.chat_message().sender_id(), "client1");
  EXPECT_EQ(event.chat_message().content(), "Hello");

  grpc::ClientContext history_ctx;
  history_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  chat::GetChatHistoryRequest request;
  request.set_room_id("room1");
  chat::GetChatHistoryResponse response;
  ASSERT_TRUE(stub->GetChatHistory(&history_ctx, request, &response).ok());
  ASSERT_EQ(response.messages_size(), 2);
  EXPECT_EQ(response.messages(0).content(), "Hi there");
  EXPECT_EQ(response.messages(1).content(), "Hello");
  EXPECT_EQ(response.messages(1).id(), "msg1");

  grpc::ClientContext user_ctx;
  user_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  chat::GetUserRequest user_request;
  user_request.set_user_id("admin1");
  chat::GetUserResponse user;
  ASSERT_TRUE(stub->GetUser(&user_ctx, user_request, &user).ok());
  EXPECT_EQ(user.user().name(), "Admin");
  EXPECT_EQ(user.user().email(), "admin@example.org");

  client1->WritesDone();
  client2->WritesDone();
  EXPECT_TRUE(client1->Finish().ok());
  EXPECT_TRUE(client2->Finish().ok());
  host.signal(SIGTERM);
  EXPECT_EQ(host.wait_exit(), 0);
}

}  // namespace
}  // namespace chathost::test
