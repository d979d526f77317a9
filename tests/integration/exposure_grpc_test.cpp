// grpc-chat exposed: who may call it, and as whom. Real hosts, real gRPC
// channels (plain, with the service token, with client certificates), and
// split deployments whose bridges present the token or lack it.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_tls.hpp"
#include "support/ws_client.hpp"

#include "health.grpc.pb.h"
#include "reflection.grpc.pb.h"

#include <gtest/gtest.h>

namespace chathost::test {
namespace {

using chat::ChatStream;
using chat::Error;

const std::string kServiceToken = "the service token of these tests, more than 32 bytes";

// grpc-chat alone, on 127.0.0.1; `extra` adds keys of its table.
std::unique_ptr<TestHost> chat_service(const std::filesystem::path& dir, const std::string& extra = "",
                                       const std::string& name = "chat") {
  return std::make_unique<TestHost>(dir, TestHostOptions{.name = name,
                                                         .plugins = {"grpc-chat"},
                                                         .tables = grpc_chat_table(0, "admin_email = \"ada@example.org\"\n" + extra)});
}

std::string token_key(const std::filesystem::path& dir) {
  return path_key("service_token_file", write_secret_file(dir, "service-token", kServiceToken + "\n"));
}

grpc::Status get_user(const std::shared_ptr<grpc::Channel>& channel, const std::string& token, const std::string& id) {
  auto stub = chat::ChatService::NewStub(channel);
  chat::GetUserRequest request;
  request.set_user_id(id);
  chat::GetUserResponse response;
  return stub->GetUser(call_context(token).get(), request, &response);
}

grpc::Status get_history(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                         const std::string& room = "private-ceo", chat::GetChatHistoryResponse* page = nullptr) {
  auto stub = chat::ChatService::NewStub(channel);
  chat::GetChatHistoryRequest request;
  request.set_room_id(room);
  request.set_limit(1000);
  chat::GetChatHistoryResponse response;
  return stub->GetChatHistory(call_context(token).get(), request, page ? page : &response);
}

::testing::AssertionResult serving(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("chat.ChatService");
  grpc::health::v1::HealthCheckResponse response;
  const auto status = stub->Check(call_context().get(), request, &response);
  if (!status.ok()) return ::testing::AssertionFailure() << "health check: " << status.error_message();
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return ::testing::AssertionFailure() << "health check: status " << response.status();
  }
  return ::testing::AssertionSuccess();
}

// The services reflection lists, or the status that refused to list them.
std::variant<std::vector<std::string>, grpc::Status> reflected_services(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  auto context = call_context();
  auto stream = stub->ServerReflectionInfo(context.get());
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("*");
  stream->Write(list);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse listed;
  std::vector<std::string> names;
  while (stream->Read(&listed)) {
    for (const auto& service : listed.list_services_response().service()) names.push_back(service.name());
  }
  auto status = stream->Finish();
  if (!status.ok()) return status;
  return names;
}

// Alice and bob join room r through the ws-proxy at `port` (one proxy, so
// its streams speak for both), and bob's `text` reaches alice.
::testing::AssertionResult two_users_chat_through(std::uint16_t port, const std::string& text) {
  WsClient alice(WsOptions{.port = port, .target = "/?user=alice&room=r"});
  WsClient bob(WsOptions{.port = port, .target = "/?user=bob&room=r"});
  if (!alice.wait_for(is_joined("r")) || !bob.wait_for(is_joined("r"))) {
    return ::testing::AssertionFailure() << "alice or bob could not join";
  }
  bob.send(chat_message("r", "bob", text, "b1"));
  if (!alice.wait_for(is_message_with_content(text))) return ::testing::AssertionFailure() << "alice missed it";
  return ::testing::AssertionSuccess();
}

// ---------------------------------------------------------------------------
// Loopback without credentials: the exercise's clients work, each stream is one user

TEST(ExposureGrpc, OnLoopbackWithoutCredentialsAPlainCallerIsOneUserPerStream) {
  TempDir dir;
  auto host = chat_service(dir.path(), "user_stream_max_rooms = 3\n");
  auto channel = chat_channel("127.0.0.1", host->port("grpc-chat"));

  ChatStreamClient alice(channel);
  alice.send(join("r1", "alice"));
  ASSERT_TRUE(alice.wait_for(is_joined("r1")));
  // The same stream may not speak for anyone else: not join as bob, not
  // post as the admin, not leave for alice's neighbour.
  alice.send(join("r1", "bob"));
  alice.send(chat_message("r1", "admin", "I am the admin", "forged"));
  alice.send(leave("r1", "carol"));
  const auto refused = alice.wait_for_count(is_error_code(Error::NOT_ALLOWED), 3);
  ASSERT_EQ(refused.size(), 3U);
  EXPECT_EQ(refused[0].error().user_id(), "bob");
  EXPECT_EQ(refused[1].error().id(), "forged");
  EXPECT_NE(refused[1].error().message().find("one user per stream"), std::string::npos) << refused[1].DebugString();
  // Rooms: three at most (user_stream_max_rooms), by join or by sending.
  alice.send(join("r2", "alice"));
  alice.send(chat_message("r3", "alice", "into a third room", "m3"));
  ASSERT_TRUE(alice.wait_for(is_ack_for("m3")));
  alice.send(join("r4", "alice"));
  alice.send(chat_message("r5", "alice", "into a fifth room", "m5"));
  const auto over = alice.wait_for_count(is_error_code(Error::NOT_ALLOWED), 5);
  ASSERT_EQ(over.size(), 5U);
  EXPECT_EQ(over[3].error().room_id(), "r4");
  EXPECT_EQ(over[4].error().id(), "m5");
  EXPECT_FALSE(alice.wait_for(is_ack_for("m5"), 200ms));

  // Another stream is another user: the exercise's clients open one each.
  ChatStreamClient bob(channel);
  bob.send(chat_message("r1", "bob", "hi alice", "b1"));  // the exercise's way: no join, the echo for an answer
  ASSERT_TRUE(bob.wait_for(is_message_with_content("hi alice")));
  EXPECT_TRUE(alice.wait_for(is_message_with_content("hi alice")));
  // Nothing forged reached the room.
  EXPECT_TRUE(alice.events_matching(is_message_with_content("I am the admin")).empty());
}

TEST(ExposureGrpc, APlainCallerSendingTooFastIsRateLimitedThenItsStreamEnds) {
  TempDir dir;
  auto host = chat_service(dir.path(),
                           "user_stream_messages_per_second = 5\nuser_stream_message_burst = 5\n"
                           "user_stream_rate_limit_strikes = 20\n");
  auto channel = chat_channel("127.0.0.1", host->port("grpc-chat"));
  ChatStreamClient flood(channel);
  for (int i = 0; i < 60; ++i) flood.send(chat_message("r", "flood", "spam", "f" + std::to_string(i)));
  const auto status = flood.wait_finished();
  ASSERT_TRUE(status);
  EXPECT_EQ(status->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status->error_message();
  EXPECT_GE(flood.events_matching(is_error_code(Error::RATE_LIMITED)).size(), 20U);
  // The burst got through, and at most a few more while the flood lasted.
  chat::GetChatHistoryResponse stored;
  ASSERT_TRUE(get_history(channel, "", "r", &stored).ok());
  EXPECT_GE(stored.messages_size(), 5);
  EXPECT_LE(stored.messages_size(), 15);
  // Another stream is not held back by it.
  ChatStreamClient calm(channel);
  calm.send(chat_message("r", "calm", "hello", "c1"));
  EXPECT_TRUE(calm.wait_for(is_message_with_content("hello")));
}

// ---------------------------------------------------------------------------
// The service token

TEST(ExposureGrpc, WithAServiceTokenEveryCallerWithoutItIsUnauthenticatedOnLoopbackToo) {
  TempDir dir;
  auto host = chat_service(dir.path(), token_key(dir.path()));
  auto channel = chat_channel("127.0.0.1", host->port("grpc-chat"));

  for (const std::string& token : {std::string(), std::string("a guess, also more than thirty-two bytes long")}) {
    SCOPED_TRACE(token.empty() ? "no token" : "a wrong token");
    EXPECT_EQ(get_user(channel, token, "admin").error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(get_history(channel, token).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    ChatStreamClient stranger(channel, token);
    stranger.send(chat_message("private-ceo", "admin", "I am the admin", "forged"));
    const auto status = stranger.wait_finished();
    ASSERT_TRUE(status);
    EXPECT_EQ(status->error_code(), grpc::StatusCode::UNAUTHENTICATED) << status->error_message();
    EXPECT_TRUE(stranger.events().empty());
  }
  // The message names what is missing, never the token itself.
  const auto refusal = get_user(channel, "", "admin");
  EXPECT_NE(refusal.error_message().find("service token"), std::string::npos) << refusal.error_message();

  // With the token: a bridge, which speaks for many users on one stream.
  EXPECT_TRUE(get_user(channel, kServiceToken, "admin").ok());
  EXPECT_TRUE(get_history(channel, kServiceToken).ok());
  ChatStreamClient bridge(channel, kServiceToken);
  bridge.send(join("r", "alice"));
  bridge.send(join("r", "bob"));
  bridge.send(chat_message("r", "bob", "hello from bob", "b1"));
  EXPECT_TRUE(bridge.wait_for(is_ack_for("b1")));
  EXPECT_TRUE(bridge.events_matching(is_error()).empty());
  // Health answers anyone (it tells nothing but SERVING).
  EXPECT_TRUE(serving(channel));
  // Refusals are counted, and logged at most once a second.
  EXPECT_TRUE(host->process().wait_for_line(std::regex(R"(refused a \w+ call from .*: .*service token)")))
      << host->output();
  EXPECT_EQ(host->output().find(kServiceToken), std::string::npos) << "the token must never be logged";
}

TEST(ExposureGrpc, BridgesPresentingTheSharedTokenChatAndOnesWithoutItAreRefused) {
  TempDir dir;
  const auto tokens = token_key(dir.path());
  auto chat = chat_service(dir.path(), tokens);
  const auto chat_port = chat->port("grpc-chat");
  TestHost good(dir.path(), {.name = "good",
                             .plugins = {"ws-proxy", "history-http"},
                             .tables = ws_proxy_table(chat_port, tokens) + history_http_table(chat_port, tokens)});
  TestHost bad(dir.path(), {.name = "bad",
                            .plugins = {"ws-proxy", "history-http"},
                            .tables = ws_proxy_table(chat_port) + history_http_table(chat_port)});

  // Two users on one proxy: its streams speak for both.
  EXPECT_TRUE(two_users_chat_through(good.port("ws-proxy"), "hi alice"));

  // The proxy without the token never gets a stream: its clients are told
  // the service is unavailable, and its log says why.
  WsClient mallory(WsOptions{.port = bad.port("ws-proxy"), .target = "/?user=mallory&room=r"});
  EXPECT_TRUE(mallory.wait_for(is_service_status(false)));
  EXPECT_FALSE(mallory.wait_for(is_joined("r"), 1s));
  EXPECT_TRUE(bad.process().wait_for_line(std::regex("UNAUTHENTICATED|service token"))) << bad.output();
  // Its history endpoint has nothing to give either; the good one has.
  const auto ask = [](std::uint16_t port) {
    return status_line(RawPeer(port).request("GET /history?room=r HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  };
  EXPECT_EQ(ask(bad.port("history-http")), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(ask(good.port("history-http")), "HTTP/1.1 200 OK");
}

// ---------------------------------------------------------------------------
// Amplification: presence

// The review's finding: every JOINED and LEFT carried the whole online list,
// so a room's presence traffic grew with the square of its size (22 MB to
// one listener for 600 users). Now a change carries the change and a count;
// the list goes to a joiner only, and only so long.
TEST(ExposureGrpc, PresenceCarriesTheChangeAndTheListOnlyInAJoinersBoundedSnapshot) {
  TempDir dir;
  auto host = chat_service(dir.path(), token_key(dir.path()) + "presence_list_max = 50\n");
  auto channel = chat_channel("127.0.0.1", host->port("grpc-chat"));
  ChatStreamClient listener(channel, kServiceToken);
  listener.send(join("big", "listener"));
  ASSERT_TRUE(listener.wait_for(is_presence("big", chat::Presence::SNAPSHOT)));

  constexpr int kUsers = 300;
  ChatStreamClient crowd(channel, kServiceToken);
  for (int i = 0; i < kUsers; ++i) crowd.send(join("big", "user-" + std::to_string(i)));
  const auto joined = listener.wait_for_count(
      [](const ChatStream& e) {
        return e.has_presence() && e.presence().kind() == chat::Presence::JOINED && e.presence().user_id() != "listener";
      },
      kUsers);
  ASSERT_EQ(joined.size(), static_cast<std::size_t>(kUsers));
  std::size_t bytes = 0;
  for (const auto& event : joined) {
    EXPECT_EQ(event.presence().online_size(), 0) << "a change carries no list";
    bytes += event.ByteSizeLong();
  }
  EXPECT_EQ(joined.back().presence().online_count(), static_cast<std::uint32_t>(kUsers + 1));
  EXPECT_LT(bytes, static_cast<std::size_t>(kUsers) * 64U) << "presence traffic to one listener";

  ChatStreamClient late(channel, kServiceToken);
  late.send(join("big", "late"));
  const auto snapshot = late.wait_for(is_presence("big", chat::Presence::SNAPSHOT));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(snapshot->presence().online_size(), 50);
  EXPECT_EQ(snapshot->presence().online_count(), static_cast<std::uint32_t>(kUsers + 2));
}

// ---------------------------------------------------------------------------
// Client certificates (mutual TLS)

TEST(ExposureGrpc, WithAClientCaOnlyCallersWithACertificateItSignedGetIn) {
  TempDir dir;
  const auto server = make_self_signed_certificate(dir.path(), "server");
  const auto bridge_cert = make_self_signed_certificate(dir.path(), "bridge", {.dns = {"bridge"}, .ip = {}});
  const auto stranger_cert = make_self_signed_certificate(dir.path(), "stranger", {.dns = {"stranger"}, .ip = {}});
  // The bridge's self-signed certificate is its own CA: trusting it is
  // trusting that one bridge.
  auto chat = chat_service(dir.path(), path_key("tls_cert_file", server.cert_file) +
                                           path_key("tls_key_file", server.key_file) +
                                           path_key("tls_client_ca_file", bridge_cert.cert_file));
  const auto chat_port = chat->port("grpc-chat");
  const std::string channel_keys = path_key("chat_tls_ca_file", server.cert_file) +
                                   path_key("chat_tls_cert_file", bridge_cert.cert_file) +
                                   path_key("chat_tls_key_file", bridge_cert.key_file);
  TestHost proxy(dir.path(), {.name = "proxy", .plugins = {"ws-proxy"}, .tables = ws_proxy_table(chat_port, channel_keys)});
  EXPECT_TRUE(two_users_chat_through(proxy.port("ws-proxy"), "over mutual TLS"));

  auto tls_channel = [&](const TestCertificate* client) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = server.cert_pem;
    if (client) {
      options.pem_cert_chain = client->cert_pem;
      options.pem_private_key = client->key_pem;
    }
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(chat_port), grpc::SslCredentials(options));
  };
  // TLS without a certificate: through the handshake, refused per call.
  const auto anonymous = get_user(tls_channel(nullptr), "", "admin");
  EXPECT_EQ(anonymous.error_code(), grpc::StatusCode::UNAUTHENTICATED) << anonymous.error_message();
  EXPECT_NE(anonymous.error_message().find("client certificate"), std::string::npos) << anonymous.error_message();
  // A certificate the client CA did not sign: the handshake fails.
  EXPECT_FALSE(get_user(tls_channel(&stranger_cert), "", "admin").ok());
  // The bridge's own certificate: in.
  EXPECT_TRUE(get_user(tls_channel(&bridge_cert), "", "admin").ok());
}

// ---------------------------------------------------------------------------
// Beyond loopback, and reflection

TEST(ExposureGrpc, BeyondLoopbackWithoutCredentialsTheHostRefusesToStartNamingTheKeys) {
  TempDir dir;
  // --check configures every plugin and opens nothing: the refusal comes
  // from configure, before any port could open.
  for (const std::string host : {"0.0.0.0", "::", "192.0.2.10"}) {
    TestHost refused(dir.path(), {.name = "refused",
                                  .plugins = {"grpc-chat"},
                                  .tables = grpc_chat_table(0, "host = \"" + host + "\"\n"),
                                  .args = {"--check"},
                                  .expect_ready = false});
    EXPECT_EQ(refused.process().wait_exit(), 1) << host;
    const auto output = refused.output();
    EXPECT_NE(output.find("[grpc-chat] host: \"" + host + "\" is reachable from the network"), std::string::npos)
        << output;
    for (const char* key : {"service_token_file", "tls_client_ca_file", "allow_unauthenticated"}) {
      EXPECT_NE(output.find(key), std::string::npos) << key << " is named:\n" << output;
    }
  }
  // Any credential, or the explicit choice, lets it through.
  for (const std::string& extra : {token_key(dir.path()), std::string("allow_unauthenticated = true\n")}) {
    TestHost allowed(dir.path(), {.name = "allowed",
                                  .plugins = {"grpc-chat"},
                                  .tables = grpc_chat_table(0, "host = \"0.0.0.0\"\n" + extra),
                                  .args = {"--check"},
                                  .expect_ready = false});
    EXPECT_EQ(allowed.process().wait_exit(), 0) << allowed.output();
  }
}

TEST(ExposureGrpc, ReflectionIsOnForLoopbackAndOffWhenConfiguredSo) {
  TempDir dir;
  auto on = chat_service(dir.path(), "", "on");
  const auto listed = reflected_services(chat_channel("127.0.0.1", on->port("grpc-chat")));
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(listed));
  const auto& names = std::get<std::vector<std::string>>(listed);
  EXPECT_NE(std::find(names.begin(), names.end(), "chat.ChatService"), names.end());

  auto off = chat_service(dir.path(), "reflection = \"off\"\n", "off");
  const auto refused = reflected_services(chat_channel("127.0.0.1", off->port("grpc-chat")));
  ASSERT_TRUE(std::holds_alternative<grpc::Status>(refused));
  EXPECT_EQ(std::get<grpc::Status>(refused).error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace chathost::test
