// ws-proxy exposed to clients that mean harm, through real host processes
// and bare sockets: what one connection can make the host hold is bounded,
// and everybody else chats on.
#include "support/config_tables.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include <gtest/gtest.h>

namespace chathost::test {
namespace {

// grpc-chat and ws-proxy in one host; `proxy_extra` adds ws-proxy keys.
std::unique_ptr<TestHost> all_in_one(const std::filesystem::path& dir, const std::string& proxy_extra = "") {
  const auto chat_port = free_tcp_port();
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.plugins = {"grpc-chat", "ws-proxy"},
                           .tables = grpc_chat_table(chat_port) + ws_proxy_table(chat_port, proxy_extra)});
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
  auto host = all_in_one(dir.path(), "send_queue_limit = 256\n");
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

// A client may ping as much as it reads: answered, every time, and it stays.
TEST(ExposureWs, PingsFromAClientThatReadsAreAnsweredAndItStays) {
  TempDir dir;
  auto host = all_in_one(dir.path(), "send_queue_limit = 16\n");
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

}  // namespace
}  // namespace chathost::test
