// ws-proxy exposed to clients that mean harm, through real host processes
// and bare sockets: what one connection can make the host hold is bounded,
// and everybody else chats on.
#include "support/config_tables.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace chathost::test {
namespace {

// grpc-chat and ws-proxy in one host; `proxy_extra` adds ws-proxy keys.
std::unique_ptr<TestHost> all_in_one(const std::filesystem::path& dir, const std::string& proxy_extra = "") {
  return host_beside_chat_service(dir, "ws-proxy", ws_proxy_table, proxy_extra);
}

std::string room_target(const std::string& user, const std::string& room) {
  return "/?user=" + user + "&room=" + room;
}

// The review's attack: a client that never reads sends 125-byte pings as
// fast as it can. Each ping owes a pong; the pongs cannot leave, so they
// used to pile up in memory (256 MB of pings took the host from 26 to 272
// MB). Now one pong waits at most, the owed ones count toward the send
// limit, and once over it the session stops reading: the flooder's own
// socket blocks it, and it finds a close frame with 1008 when it reads.
TEST(ExposureWs, APingFloodFromAClientThatNeverReadsIsBoundedAndClosedWith1008) {
  TempDir dir;
  // The rate limit would stop the flood first (below): out of the way here.
  auto host = all_in_one(dir.path(),
                         "send_queue_limit = 256\nmax_messages_per_second = 1000000\nmessage_burst = 1000000\n");
  const auto ws_port = host->port("ws-proxy");
  WsClient alice(WsOptions{.port = ws_port, .target = room_target("alice", "r")});
  ASSERT_TRUE(alice.wait_for(is_joined("r")));

  const auto before = resident_bytes(host->process().pid());
  // A tiny receive window: the proxy's writes to it stall almost at once.
  RawPeer flooder(ws_port, {.receive_buffer_bytes = 4096});
  ASSERT_EQ(status_line(flooder.upgrade()), "HTTP/1.1 101 Switching Protocols");
  constexpr std::size_t kFloodBytes = 256 << 20;
  const std::size_t sent = flooder.flood(raw_frame(0x89, std::string(125, 'p')), kFloodBytes, 3s);
  const auto after = resident_bytes(host->process().pid());

  // The proxy stopped reading: the flood got stuck in the sockets' buffers
  // (a few MB), far short of what the client had to send.
  EXPECT_LT(sent, kFloodBytes / 8) << "the proxy read the whole flood";
  EXPECT_LT(after, before + (32U << 20)) << "resident memory grew from " << before << " to " << after
                                         << " bytes during a flood of " << sent << " bytes";
  // What the flooder finds when it reads at last: its pongs so far, then 1008.
  EXPECT_EQ(flooder.read_close_code(), 1008);
  ASSERT_TRUE(host->process().wait_for_line(std::regex(R"(too slow, \d+ frames waiting; closed with 1008)")))
      << host->output();

  // Nobody else noticed.
  alice.send(chat_message("r", "alice", "still here", "a1"));
  EXPECT_TRUE(alice.wait_for(is_ack_for("a1")));
  EXPECT_TRUE(alice.events_matching(is_error()).empty());
}

// Pings count toward the frame rate as messages do: a flood is stopped by
// it, whether the flooder reads or not, and the flood stays in its socket.
TEST(ExposureWs, PingsFasterThanTheFrameRateAreNotAnsweredThenClosedWith1008) {
  TempDir dir;
  auto host = all_in_one(dir.path(), "max_messages_per_second = 50\nmessage_burst = 100\nrate_limit_strikes = 50\n");
  RawPeer flooder(host->port("ws-proxy"));
  ASSERT_EQ(status_line(flooder.upgrade()), "HTTP/1.1 101 Switching Protocols");
  const std::size_t sent = flooder.flood(raw_frame(0x89, std::string(125, 'p')), 256 << 20, 3s);
  EXPECT_LT(sent, 64U << 20) << "the proxy read the whole flood";
  EXPECT_EQ(flooder.read_close_code(), 1008);
  EXPECT_TRUE(host->process().wait_for_line(std::regex(R"(closed for sending too fast \(\d+ frames refused in a row\))")));
}

// A client may ping as much as it reads: answered, every time, and it stays.
TEST(ExposureWs, PingsFromAClientThatReadsAreAnsweredAndItStays) {
  TempDir dir;
  auto host = all_in_one(dir.path(), "send_queue_limit = 16\nmax_messages_per_second = 1000\nmessage_burst = 1000\n");
  RawPeer pinger(host->port("ws-proxy"));
  ASSERT_EQ(status_line(pinger.upgrade()), "HTTP/1.1 101 Switching Protocols");
  // Ten times the send limit, one at a time: each pong is read before the
  // next ping, so nothing is ever owed for long.
  for (int i = 0; i < 160; ++i) {
    pinger.send_bytes(raw_frame(0x89, "ping " + std::to_string(i)));
    ASSERT_EQ(pinger.read_pong(), "ping " + std::to_string(i));
  }
  pinger.send_bytes(raw_frame(0x88, std::string("\x03\xe8", 2)));
  EXPECT_EQ(pinger.read_close_code(), 1000);
}

// The review's attack: thousands of idle sockets from one address, each
// holding a file descriptor and a slot, none ever upgraded. Sockets count
// from accept: past max_connections_per_address they are answered 429 and
// closed at once, past max_connections 503, and clients from other
// addresses (another loopback address is another client) come in as usual.
TEST(ExposureWs, IdleSocketsFromOneAddressAreCappedFromAcceptAndOthersStillConnect) {
  TempDir dir;
  auto host = all_in_one(dir.path(), "max_connections = 12\nmax_connections_per_address = 5\n");
  const auto port = host->port("ws-proxy");
  WsClient alice(WsOptions{.port = port, .target = room_target("alice", "r")});
  ASSERT_TRUE(alice.wait_for(is_joined("r")));  // alice: one of 127.0.0.1's five

  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(std::make_unique<RawPeer>(port));  // held, silent
  // The next ones from 127.0.0.1 are refused without a byte sent.
  for (int i = 0; i < 20; ++i) {
    RawPeer refused(port);
    EXPECT_TRUE(refused.wait_end(5s)) << "socket " << i << " is closed by the proxy";
    EXPECT_EQ(status_line(refused.buffered()), "HTTP/1.1 429 Too Many Requests") << refused.buffered();
  }
  // Another address upgrades and chats with alice.
  RawPeer bob(port, {.source = "127.0.0.2"});
  ASSERT_EQ(status_line(bob.upgrade("", room_target("bob", "r"))), "HTTP/1.1 101 Switching Protocols");
  ASSERT_TRUE(alice.wait_for(is_presence("r", chat::Presence::JOINED, "bob")));
  // The whole listener: 12 sockets at most, whoever holds them.
  std::vector<std::unique_ptr<RawPeer>> others;
  for (int i = 0; i < 5; ++i) others.push_back(std::make_unique<RawPeer>(port, RawPeerOptions{.source = "127.0.0.3"}));
  others.push_back(std::make_unique<RawPeer>(port, RawPeerOptions{.source = "127.0.0.5"}));
  RawPeer over(port, {.source = "127.0.0.4"});
  EXPECT_TRUE(over.wait_end(5s));
  EXPECT_EQ(status_line(over.buffered()), "HTTP/1.1 503 Service Unavailable") << over.buffered();

  // Slots come back when sockets go.
  idle.clear();
  others.clear();
  std::optional<UpgradeAnswer> later;
  for (int i = 0; i < 50; ++i) {
    later = try_upgrade(WsOptions{.port = port});
    if (later->status == 101) break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(later->status, 101);
  alice.send(chat_message("r", "alice", "still here", "a1"));
  EXPECT_TRUE(alice.wait_for(is_ack_for("a1")));
}

// ---------------------------------------------------------------------------
// Tokens: which rooms, and for how long

const std::string kTokenSecret = "the token secret of these tests, more than 32 bytes";

std::string token(const std::string& user, std::vector<std::string> rooms,
                  std::optional<std::chrono::system_clock::duration> valid_for = std::chrono::hours(1)) {
  const auto now = std::chrono::system_clock::now();
  std::optional<std::chrono::system_clock::time_point> exp;
  if (valid_for) exp = now + *valid_for;
  return chat::auth::mint_token(kTokenSecret, user, exp, now, chat::auth::TokenClaims{.rooms = std::move(rooms), .issuer = "", .audience = ""});
}

// A token's `rooms` claim opens those rooms and no other: not at the
// upgrade, not by a join (nor its replay), not by sending into one.
TEST(ExposureWs, ATokensRoomsClaimOpensThoseRoomsOnly) {
  TempDir dir;
  const auto secret = write_secret_file(dir.path(), "token-secret", kTokenSecret);
  auto host = all_in_one(dir.path(), path_key("auth_secret_file", secret));
  const auto port = host->port("ws-proxy");
  const auto alice_token = token("alice", {"lobby", "team-*"});
  const auto at = [&](const std::string& query) { return "/?access_token=" + alice_token + "&" + query; };

  EXPECT_EQ(try_upgrade(WsOptions{.port = port, .target = at("room=private-ceo")}).status, 403);
  WsClient alice(WsOptions{.port = port, .target = at("room=lobby")});
  ASSERT_TRUE(alice.wait_for(is_joined("lobby")));
  chat::ChatStream join_team = join("team-red", "alice");
  alice.send(join_team);
  EXPECT_TRUE(alice.wait_for(is_joined("team-red")));
  alice.send(join("private-ceo", "alice", /*since=*/0));  // with its whole replay
  alice.send(chat_message("private-ceo", "alice", "let me in", "p1"));
  const auto refused = alice.wait_for_count(is_error_code(chat::Error::NOT_ALLOWED), 2);
  ASSERT_EQ(refused.size(), 2U);
  EXPECT_EQ(refused[0].error().room_id(), "private-ceo");
  EXPECT_EQ(refused[1].error().id(), "p1");
  EXPECT_NE(refused[1].error().message().find("does not grant room"), std::string::npos);
  EXPECT_FALSE(alice.wait_for(is_joined("private-ceo"), 300ms));

  // The rooms it does grant work as ever.
  alice.send(chat_message("team-red", "alice", "hello team", "t1"));
  EXPECT_TRUE(alice.wait_for(is_ack_for("t1")));
}

TEST(ExposureWs, ATokenWithoutExpOrValidTooLongIsRefusedAtTheUpgrade) {
  TempDir dir;
  const auto secret = write_secret_file(dir.path(), "token-secret", kTokenSecret);
  auto host = all_in_one(dir.path(), path_key("auth_secret_file", secret) + "max_token_ttl_seconds = 3600\n");
  const auto port = host->port("ws-proxy");
  const auto upgrade = [&](const std::string& access_token) {
    return try_upgrade(WsOptions{.port = port, .target = "/?access_token=" + access_token});
  };
  EXPECT_EQ(upgrade(token("alice", {}, std::nullopt)).status, 401);
  const auto too_long = upgrade(token("alice", {}, std::chrono::hours(2)));
  EXPECT_EQ(too_long.status, 401);
  EXPECT_NE(too_long.body.find("expires too far ahead"), std::string::npos) << too_long.body;
  EXPECT_EQ(upgrade(token("alice", {}, std::chrono::minutes(30))).status, 101);
}

}  // namespace
}  // namespace chathost::test
