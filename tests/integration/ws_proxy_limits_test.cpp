// ws-proxy and what a client can get wrong: bad frames, upgrades and
// origins, too many connections, too fast a sender, a reader that never
// reads, a client that goes silent. Each gets its answer and nobody else
// notices.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/host_process.hpp"
#include "support/proxy_hosts.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"
#include "support/raw_peer.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <gtest/gtest.h>

#include <poll.h>

#include <algorithm>
#include <thread>

namespace chathost::test {
namespace {

using chat::ChatStream;
using chat::Error;
using chat::Presence;

// ---------------------------------------------------------------------------
// Bad input: each gets its answer, and nobody else notices

TEST_F(WsProxyTest, InvalidJsonUnknownPayloadsWrongShapesAndBinaryFramesGetErrorsAndTheConnectionLivesOn) {
  auto host = all_in_one(dir_.path());
  auto mallory = joined_client(*host, "mallory", "r");
  auto alice = joined_client(*host, "alice", "r");

  mallory->send_text("this is not JSON");
  auto invalid = mallory->wait_for(is_error_code(Error::INVALID_FRAME));
  ASSERT_TRUE(invalid);
  EXPECT_NE(invalid->error().message().find("invalid JSON"), std::string::npos) << invalid->error().message();

  mallory->send_text(R"({"teleport":{"to":"mars"}})");
  auto unknown = mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->error().frame(), "teleport");
  EXPECT_NE(unknown->error().message().find("teleport"), std::string::npos);

  const auto seen = mallory->size();
  mallory->send_text(R"({"ack":{"id":"x"}})");
  auto server_only = mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD), kDefaultTimeout, seen);
  ASSERT_TRUE(server_only);
  EXPECT_EQ(server_only->error().frame(), "ack");
  // A watch would read a room through the proxy's own stream, past the
  // room grants: only bridges send it, never their clients.
  const auto seen_watch = mallory->size();
  mallory->send_text(R"({"watch":{"room_id":"secret","token":"1"}})");
  auto watch = mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD), kDefaultTimeout, seen_watch);
  ASSERT_TRUE(watch);
  EXPECT_EQ(watch->error().frame(), "watch");

  const auto seen2 = mallory->size();
  mallory->send_text("{}");
  ASSERT_TRUE(mallory->wait_for(is_error_code(Error::UNKNOWN_PAYLOAD), kDefaultTimeout, seen2));

  const auto seen3 = mallory->size();
  mallory->send_text(R"({"chat_message":{"room_id":["not","a","string"]}})");
  auto shape = mallory->wait_for(is_error_code(Error::INVALID_FRAME), kDefaultTimeout, seen3);
  ASSERT_TRUE(shape);
  EXPECT_EQ(shape->error().frame(), "chat_message");

  const auto seen4 = mallory->size();
  mallory->send_text(R"({"chat_message":{"id":"e1","room_id":"r","sender_id":"mallory"}})");
  auto missing = mallory->wait_for(is_error_code(Error::MISSING_FIELD), kDefaultTimeout, seen4);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->error().id(), "e1");

  const auto seen5 = mallory->size();
  mallory->send_binary(std::string("\x00\x01\x02", 3));
  auto binary = mallory->wait_for(is_error_code(Error::INVALID_FRAME), kDefaultTimeout, seen5);
  ASSERT_TRUE(binary);
  EXPECT_NE(binary->error().message().find("binary"), std::string::npos);

  // Still connected and working; alice saw none of it.
  mallory->send(chat_message("r", "mallory", "sorry", "m1"));
  ASSERT_TRUE(mallory->wait_for(is_message_id("m1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("m1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
  EXPECT_EQ(alice->events_matching(is_any_message()).size(), 1U);
}

TEST_F(WsProxyTest, DeepNestingGetsAnInvalidFrameAndTheConnectionChatsOn) {
  auto host = all_in_one(dir_.path());
  auto mallory = joined_client(*host, "mallory", "r");
  auto alice = joined_client(*host, "alice", "r");
  const auto nested_arrays = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  // Past 32 levels: 33 arrays, a chat_message whose content is 31 arrays
  // deep (33 with its two objects), 100 objects, 2000 arrays.
  std::string deep_objects;
  for (int i = 0; i < 100; ++i) deep_objects += R"({"a":)";
  deep_objects += "1" + std::string(100, '}');
  for (const auto& frame : {nested_arrays(33),
                            R"({"chat_message":{"id":"d1","room_id":"r","sender_id":"mallory","content":)" +
                                nested_arrays(31) + "}}",
                            deep_objects, nested_arrays(2000)}) {
    const auto seen = mallory->size();
    mallory->send_text(frame);
    const auto refused = mallory->wait_for(is_error(), kDefaultTimeout, seen);
    ASSERT_TRUE(refused) << frame.substr(0, 80);
    EXPECT_EQ(refused->error().code(), Error::INVALID_FRAME) << refused->DebugString();
    EXPECT_EQ(refused->error().message(), "invalid JSON: too deep") << frame.substr(0, 80);
  }
  // 32 levels are not too deep: what they are is the wrong shape.
  const auto seen = mallory->size();
  mallory->send_text(nested_arrays(32));
  const auto shallower = mallory->wait_for(is_error(), kDefaultTimeout, seen);
  ASSERT_TRUE(shallower);
  EXPECT_EQ(shallower->error().code(), Error::INVALID_FRAME);
  EXPECT_EQ(shallower->error().message().find("too deep"), std::string::npos) << shallower->error().message();

  // The same connection chats on; alice saw none of it.
  mallory->send(chat_message("r", "mallory", "flat again", "m1"));
  ASSERT_TRUE(mallory->wait_for(is_ack_for("m1")));
  ASSERT_TRUE(mallory->wait_for(is_message_id("m1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("m1")));
  alice->send(chat_message("r", "alice", "hello mallory", "a1"));
  ASSERT_TRUE(mallory->wait_for(is_message_id("a1")));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
  EXPECT_EQ(alice->events_matching(is_any_message()).size(), 2U);
  EXPECT_FALSE(mallory->wait_closed(0ms));
}

TEST_F(WsProxyTest, OversizeFrameClosesWith1009AndOthersCarryOn) {
  auto host = all_in_one(dir_.path());
  auto big = joined_client(*host, "big", "r");
  auto alice = joined_client(*host, "alice", "r");
  big->send(chat_message("r", "big", std::string(70 * 1024, 'x'), "huge"));
  auto closed = big->wait_closed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1009) << closed->error;

  alice->send(chat_message("r", "alice", "still here", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_message_id("huge")).empty());
  // A new connection is welcome.
  auto again = joined_client(*host, "big", "r");
  again->send(chat_message("r", "big", "smaller", "b2"));
  ASSERT_TRUE(alice->wait_for(is_message_id("b2")));
}

TEST_F(WsProxyTest, AConnectionCannotSpeakForAnotherUser) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");

  alice->send(chat_message("r", "bob", "I am bob", "fake1"));
  auto refused = alice->wait_for(is_error_code(Error::NOT_ALLOWED));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().id(), "fake1");
  EXPECT_EQ(refused->error().user_id(), "bob");
  EXPECT_EQ(refused->error().frame(), "chat_message");

  const auto seen = alice->size();
  alice->send(join("elsewhere", "bob"));
  auto refused_join = alice->wait_for(is_error_code(Error::NOT_ALLOWED), kDefaultTimeout, seen);
  ASSERT_TRUE(refused_join);
  EXPECT_EQ(refused_join->error().frame(), "join");

  // The exercise's client: its first message fixes who it is.
  WsClient legacy(ws_to(*host));
  ASSERT_TRUE(legacy.wait_available());
  legacy.send(chat_message("r", "client1", "first", "l1"));
  ASSERT_TRUE(legacy.wait_for(is_message_id("l1")));
  legacy.send(chat_message("r", "client2", "pretending", "l2"));
  ASSERT_TRUE(legacy.wait_for(is_error_for(Error::NOT_ALLOWED, "l2")));

  // No ?user=: its first join fixes who it is.
  WsClient joiner(ws_to(*host));
  ASSERT_TRUE(joiner.wait_available());
  joiner.send(join("r", "carol"));
  ASSERT_TRUE(joiner.wait_for(is_joined("r")));
  joiner.send(chat_message("r", "dave", "pretending", "j1"));
  auto as_dave = joiner.wait_for(is_error_for(Error::NOT_ALLOWED, "j1"));
  ASSERT_TRUE(as_dave);
  EXPECT_EQ(as_dave->error().user_id(), "dave");

  alice->send(chat_message("r", "alice", "the real alice", "a1"));
  ASSERT_TRUE(bob->wait_for(is_message_id("a1")));
  EXPECT_TRUE(bob->events_matching(is_message_id("j1")).empty());
  EXPECT_TRUE(bob->events_matching(is_message_id("fake1")).empty());
  EXPECT_TRUE(bob->events_matching(is_message_id("l2")).empty());
  EXPECT_TRUE(bob->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, AnExerciseClientJoinsRoomsBySendingUpToItsLimitAndItsRoomsAreLeftWhenItGoes) {
  // Two streams to the chat service: "room-a" and "room-b" are carried by
  // different ones (by the hash of their ids), so the connection's rooms
  // are kept by two links.
  auto host = all_in_one(dir_.path(), "max_rooms_per_connection = 2\nupstream_streams = 2\n");
  auto watcher_a = joined_client(*host, "watcher", "room-a");
  auto watcher_b = joined_client(*host, "watcher", "room-b");

  WsClient legacy(ws_to(*host));
  ASSERT_TRUE(legacy.wait_available());
  legacy.send(chat_message("room-a", "client1", "in a", "l1"));
  legacy.send(chat_message("room-b", "client1", "in b", "l2"));
  ASSERT_TRUE(legacy.wait_for(is_message_id("l1")));
  ASSERT_TRUE(legacy.wait_for(is_message_id("l2")));
  // A third room is one too many; the two it is in still take its messages.
  legacy.send(chat_message("room-c", "client1", "in c", "l3"));
  auto refused = legacy.wait_for(is_error_for(Error::NOT_ALLOWED, "l3"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error().room_id(), "room-c");
  legacy.send(chat_message("room-a", "client1", "again in a", "l4"));
  ASSERT_TRUE(watcher_a->wait_for(is_message_id("l4")));

  // Once it has gone, its user is gone from both rooms.
  legacy.close();
  ASSERT_TRUE(legacy.wait_closed());
  EXPECT_TRUE(watcher_a->wait_for(is_presence("room-a", Presence::LEFT, "client1")));
  EXPECT_TRUE(watcher_b->wait_for(is_presence("room-b", Presence::LEFT, "client1")));
}

TEST_F(WsProxyTest, DisallowedOriginIsRefusedWith403BeforeTheUpgrade) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");
  auto evil = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .origin = std::string("https://evil.example")});
  EXPECT_EQ(evil.status, 403) << evil.error;
  EXPECT_NE(evil.body.find("origin not allowed"), std::string::npos) << evil.body;
  auto allowed = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .origin = std::string(kAllowedOrigin)});
  EXPECT_EQ(allowed.status, 101) << allowed.error;
  auto no_origin = try_upgrade(WsOptions{.port = host->port("ws-proxy")});  // not a browser
  EXPECT_EQ(no_origin.status, 101) << no_origin.error;
  auto wrong_path = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .target = "/admin"});
  EXPECT_EQ(wrong_path.status, 404);
  auto bad_query = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .target = "/ws?room=lobby"});
  EXPECT_EQ(bad_query.status, 400) << "room without user";
  auto ws_path = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .target = "/ws?user=a%20b&room=x"});
  EXPECT_EQ(ws_path.status, 101);

  // Nobody already connected noticed.
  alice->send(chat_message("r", "alice", "still fine", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, BadUpgradeRequestsAndProtocolErrorsGetTheirAnswersAndOthersCarryOn) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");

  auto status_of = [](const std::string& head) { return head.substr(0, head.find("\r\n")); };
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).upgrade()), "HTTP/1.1 101 Switching Protocols");
  const auto accept = RawPeer(host->port("ws-proxy")).upgrade();
  EXPECT_NE(accept.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos) << accept;
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
            "HTTP/1.1 426 Upgrade Required");
  const auto version = RawPeer(host->port("ws-proxy"))
                           .request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  EXPECT_EQ(status_of(version), "HTTP/1.1 426 Upgrade Required");
  EXPECT_NE(version.find("Sec-WebSocket-Version: 13"), std::string::npos) << version;
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy"))
                          .request("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                   "Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n\r\n")),
            "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).upgrade("X-Padding: " + std::string(9000, 'p') + "\r\n")),
            "HTTP/1.1 431 Request Header Fields Too Large");
  const auto upgrade_to = [](const std::string& target) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  };
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request(upgrade_to("/?user=x&room=%zz"))), "HTTP/1.1 400 Bad Request");
  // Ids of the query: 128 bytes are fine, 129 are refused before any 101
  // (the first answer on the connection is the 400).
  const std::string id128(128, 'u');
  const std::string id129(129, 'u');
  EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request(upgrade_to("/?user=" + id128 + "&room=" + id128))),
            "HTTP/1.1 101 Switching Protocols");
  const std::string id129_decoded = std::string(43, 'u') + "%C3%A9" + std::string(84, 'u');  // é: two bytes
  for (const auto& target : {"/?user=" + id129, "/?user=x&room=" + id129, "/?user=" + id129_decoded}) {
    EXPECT_EQ(status_of(RawPeer(host->port("ws-proxy")).request(upgrade_to(target))), "HTTP/1.1 400 Bad Request") << target;
  }

  // On an open connection: each protocol error closes it with its code.
  const std::vector<std::pair<std::string, int>> cases = {
      {raw_frame(0x81, "unmasked", /*masked=*/false), 1002},
      {raw_frame(0xC1, "reserved bit"), 1002},
      {raw_frame(0x83, "opcode 3"), 1002},
      {raw_frame(0x80, "continuation of nothing"), 1002},
      {raw_frame(0x09, "fragmented ping"), 1002},
      {raw_frame(0x81, "not UTF-8 \xff"), 1007},
      {raw_frame(0x88, std::string("\x03\xe8", 2)), 1000},  // the client's own close, echoed
  };
  for (const auto& [bytes, code] : cases) {
    RawPeer peer(host->port("ws-proxy"));
    ASSERT_EQ(status_of(peer.upgrade()), "HTTP/1.1 101 Switching Protocols");
    peer.send_bytes(bytes);
    EXPECT_EQ(peer.read_close_code(), code) << "after frame of " << bytes.size() << " bytes";
  }
  // A ping is answered; the connection lives on.
  RawPeer pinger(host->port("ws-proxy"));
  ASSERT_EQ(status_of(pinger.upgrade()), "HTTP/1.1 101 Switching Protocols");
  pinger.send_bytes(raw_frame(0x89, "are you there") + raw_frame(0x88, std::string("\x03\xe8", 2)));
  EXPECT_EQ(pinger.read_close_code(), 1000);

  alice->send(chat_message("r", "alice", "still fine", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, AConnectionWithoutAWholeUpgradeRequestInTheHandshakeTimeoutIsClosed) {
  auto host = all_in_one(dir_.path(), "handshake_timeout_seconds = 1\n");
  auto alice = joined_client(*host, "alice", "r");
  const std::string request =
      "GET /?user=slow&room=r HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  // Closed by the server (end of stream) well within this, and not before
  // the timeout: a second.
  constexpr auto kWithin = 10s;
  const auto began = std::chrono::steady_clock::now();
  RawPeer silent(host->port("ws-proxy"));  // connects, says nothing
  RawPeer partial(host->port("ws-proxy"));  // half a request, then nothing
  partial.send_bytes(request.substr(0, request.size() / 2));
  // Meanwhile a client that completes its upgrade chats as usual, past the second.
  auto bob = joined_client(*host, "bob", "r");

  // A byte every 200 ms: bytes keep coming, the request never completes.
  RawPeer trickle(host->port("ws-proxy"));
  const auto trickle_began = std::chrono::steady_clock::now();
  EXPECT_TRUE(trickle.trickle_until_end(request, 200ms, kWithin));
  EXPECT_GE(std::chrono::steady_clock::now() - trickle_began, 900ms);
  EXPECT_TRUE(silent.wait_end(kWithin));
  EXPECT_TRUE(partial.wait_end(kWithin));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 900ms);

  bob->send(chat_message("r", "bob", "still here", "b1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("b1")));
  ASSERT_TRUE(bob->wait_for(is_message_id("b1")));
  EXPECT_FALSE(bob->wait_closed(0ms));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
}

TEST_F(WsProxyTest, AWildcardOriginAcceptsEveryPage) {
  auto host = all_in_one(dir_.path(), "allowed_origins = [\"*\"]\n");
  for (const std::string origin : {"https://evil.example", "http://localhost:8081", "null"}) {
    auto answer = try_upgrade(WsOptions{.port = host->port("ws-proxy"), .origin = origin});
    EXPECT_EQ(answer.status, 101) << origin << ": " << answer.error;
  }
}

TEST_F(WsProxyTest, ConnectionsOverTheLimitGet503) {
  auto host = all_in_one(dir_.path(), "max_connections = 2\n");
  WsClient one(ws_to(*host)), two(ws_to(*host));
  ASSERT_TRUE(one.wait_available());
  ASSERT_TRUE(two.wait_available());
  auto third = try_upgrade(ws_to(*host));
  EXPECT_EQ(third.status, 503);
  two.close();
  ASSERT_TRUE(two.wait_closed());
  // The slot is free again.
  std::optional<UpgradeAnswer> later;
  for (int i = 0; i < 50; ++i) {
    later = try_upgrade(ws_to(*host));
    if (later->status == 101) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(later->status, 101);
}

TEST_F(WsProxyTest, TooFastASenderIsRateLimitedThenClosedWith1008) {
  auto host = all_in_one(dir_.path(), "max_messages_per_second = 5\nmessage_burst = 5\nrate_limit_strikes = 20\n");
  auto flood = joined_client(*host, "flood", "r");
  auto alice = joined_client(*host, "alice", "r");
  const auto flood_began = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) flood->send(chat_message("r", "flood", "spam", "f" + std::to_string(i)));
  auto limited = flood->wait_for(is_error_code(Error::RATE_LIMITED));
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->error().frame(), "chat_message");
  EXPECT_FALSE(limited->error().id().empty()) << "the refused message is named";
  // The first ones got through.
  ASSERT_TRUE(alice->wait_for(is_message_id("f0")));

  for (int i = 10; i < 60; ++i) flood->send(chat_message("r", "flood", "spam", "f" + std::to_string(i)));
  auto closed = flood->wait_closed();
  ASSERT_TRUE(closed);
  const auto flood_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_began).count();
  EXPECT_EQ(closed->code, 1008) << closed->error;
  EXPECT_GE(flood->events_matching(is_error_code(Error::RATE_LIMITED)).size(), 20U);

  alice->send(chat_message("r", "alice", "calm", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  EXPECT_TRUE(alice->events_matching(is_error()).empty());
  // Of the 60, only the burst of 5 and 5 a second for as long as the flood
  // lasted (under a second on an idle machine, longer on a busy one) reached
  // the room, one more for rounding; then a1.
  const auto from_flood = 5U + static_cast<std::size_t>(5 * flood_seconds) + 1U;
  EXPECT_LE(alice->events_matching(is_any_message()).size(), from_flood + 1U)
      << "the flood lasted " << flood_seconds << " s";
}

// A member of room "r" that reads nothing, with a tiny receive window: the
// proxy's writes to it stall almost at once.
std::unique_ptr<WsClient> sloth_in_room(TestHost& host) {
  return std::make_unique<WsClient>(
      WsOptions{.port = host.port("ws-proxy"), .target = target("sloth", "r"), .receive_buffer_bytes = 4096, .read = false});
}

// Slow-reader tests: a small kernel send buffer, and no rate limit in the way.
constexpr const char* kSlowReaderConfig =
    "socket_send_buffer_bytes = 8192\nmax_messages_per_second = 100000\nmessage_burst = 100000\n";

TEST_F(WsProxyTest, AClientThatNeverReadsIsDroppedAndOthersGetEverything) {
  auto host = all_in_one(dir_.path(), std::string("send_queue_limit = 192\n") + kSlowReaderConfig);
  auto sloth = sloth_in_room(*host);
  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");
  ASSERT_TRUE(alice->wait_for(is_presence("r", Presence::JOINED, "bob")));

  // Batches small enough for readers to keep up (at most 2 x 16 frames queued
  // each, far below the limit even when a reader's thread lags on a loaded
  // machine), far too much in all for a client that reads nothing.
  constexpr int kBatches = 25;
  constexpr int kBatch = 16;
  constexpr std::size_t kMessages = kBatches * kBatch;
  const std::string content(2000, 'z');
  for (int b = 0; b < kBatches; ++b) {
    for (int i = 0; i < kBatch; ++i) {
      alice->send(chat_message("r", "alice", content, "a" + std::to_string(b * kBatch + i)));
    }
    ASSERT_TRUE(alice->wait_for(is_message_id("a" + std::to_string(b * kBatch + kBatch - 1)))) << "batch " << b;
  }
  ASSERT_TRUE(host->process().wait_for_line(std::regex("user 'sloth'\\): too slow.*closed with 1008")))
      << host->process().output();
  for (auto* client : {alice.get(), bob.get()}) {
    EXPECT_EQ(client->wait_for_count(is_any_message(), kMessages).size(), kMessages);
  }
  std::size_t dropped = 0;
  for (const auto& line : host->process().lines()) dropped += line.text.find("too slow") != std::string::npos ? 1 : 0;
  EXPECT_EQ(dropped, 1U) << "only the sloth is dropped:\n" << host->process().output();
  // What the sloth finds when it finally reads: some frames, then the close
  // frame with its code (it followed the frame that was being written).
  sloth->start_reading();
  auto closed = sloth->wait_closed(15s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008) << closed->error;
  EXPECT_LT(sloth->events_matching(is_any_message()).size(), kMessages);
}

TEST_F(WsProxyTest, AClientThatNeverReadsIsDroppedByTheBytesWaitingForItToo) {
  // Far from the frame limit: a few large frames hold as much memory as many small ones.
  auto host = all_in_one(dir_.path(), std::string("send_queue_limit = 100000\nsend_queue_bytes = 65536\n") +
                                           kSlowReaderConfig);
  auto sloth = sloth_in_room(*host);
  auto alice = joined_client(*host, "alice", "r");
  const std::string content(3000, 'z');
  constexpr int kMessages = 120;  // 360 KB in all: several times what the sloth may have waiting
  for (int i = 0; i < kMessages; ++i) {
    alice->send(chat_message("r", "alice", content, "a" + std::to_string(i)));
    if (i % 8 == 7) {
      ASSERT_TRUE(alice->wait_for(is_message_id("a" + std::to_string(i))));
    }
  }
  ASSERT_TRUE(host->process().wait_for_line(
      std::regex("user 'sloth'\\): too slow, 65536 bytes of frames waiting; closed with 1008")))
      << host->process().output();
  EXPECT_EQ(alice->wait_for_count(is_any_message(), kMessages).size(), static_cast<std::size_t>(kMessages));
  sloth->start_reading();
  auto closed = sloth->wait_closed(15s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008) << closed->error;
}

TEST_F(WsProxyTest, AReplayLongerThanTheFrameLimitReachesAClientThatReads) {
  // A replay comes from the chat service all at once, far faster than the
  // proxy writes it out: a client that reads is not "too slow" for it, however
  // small the frame limit. Both kinds: a join with `since`, and what the
  // room missed while the proxy's link to the chat service was down.
  const auto chat_port = free_tcp_port();
  const auto store = dir_.path() / "service" / "data" / "chat.db";
  const std::string tables =
      chat_table(chat_port, store) + "\n" +
      proxy_table(chat_port, "send_queue_limit = 16\nreconnect_min_ms = 8000\nreconnect_max_ms = 8000\n");
  auto service = make_host(dir_.path(), "service", tables, "grpc-chat");
  auto proxy = make_host(dir_.path(), "proxy", tables, "ws-proxy");
  constexpr int kMissed = 600;
  const auto say_many = [&](const std::string& prefix) {
    ChatStreamClient direct(chat_channel("127.0.0.1", chat_port), test_service_token());
    for (int i = 0; i < kMissed; ++i) direct.send(chat_message("r", "bob", "missed", prefix + std::to_string(i)));
    ASSERT_TRUE(direct.wait_for(is_message_id(prefix + std::to_string(kMissed - 1)), 30s));
  };
  say_many("b");

  WsClient alice(ws_to(*proxy, "/?user=alice"));
  alice.send(join("r", "alice", 0));
  auto joined = alice.wait_for(is_joined("r"));
  ASSERT_TRUE(joined) << proxy->process().output();
  EXPECT_EQ(joined->joined().replayed(), static_cast<std::uint64_t>(kMissed));
  ASSERT_EQ(alice.wait_for_count(is_any_message(), kMissed, 30s).size(), static_cast<std::size_t>(kMissed))
      << proxy->process().output();

  service->stop();
  ASSERT_TRUE(alice.wait_for(is_service_status(false)));
  service->start();
  say_many("c");  // while the proxy waits to reconnect
  ASSERT_EQ(alice.wait_for_count(is_any_message(), 2 * kMissed, 30s).size(), static_cast<std::size_t>(2 * kMissed))
      << proxy->process().output();

  std::vector<std::uint64_t> sequences;
  for (const auto& e : alice.events_matching(is_any_message())) sequences.push_back(e.chat_message().sequence());
  std::vector<std::uint64_t> expected(2 * kMissed);
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(sequences, expected);
  EXPECT_EQ(proxy->process().output().find("too slow"), std::string::npos) << proxy->process().output();
}

TEST_F(WsProxyTest, ASilentClientThatAnswersPingsStaysAndOneThatAnswersNothingIsDropped) {
  // Debug logging: dropping an idle connection is routine, not worth a line at info.
  auto host = all_in_one(dir_.path(), "idle_timeout_seconds = 2\n", {{"CHATHOST_LOG_LEVEL", "debug"}});
  auto quiet = joined_client(*host, "quiet", "r");  // reads, so it answers pings; sends nothing
  WsClient deaf(WsOptions{.port = host->port("ws-proxy"), .read = false});

  ASSERT_TRUE(host->process().wait_for_line(std::regex(R"(connection \d+ \(.*\): silent for 2 s; dropped)"), 20s))
      << host->process().output();
  deaf.start_reading();
  ASSERT_TRUE(deaf.wait_closed());
  // quiet has been silent as long as deaf, and is still here.
  quiet->send(chat_message("r", "quiet", "still here", "q1"));
  ASSERT_TRUE(quiet->wait_for(is_message_id("q1")));
  EXPECT_FALSE(quiet->wait_closed(0ms));
  std::size_t dropped = 0;
  for (const auto& line : host->process().lines()) dropped += line.text.find("; dropped") != std::string::npos ? 1 : 0;
  EXPECT_EQ(dropped, 1U) << host->process().output();
}

}  // namespace
}  // namespace chathost::test
