// history-http exposed: request heads that smuggle or lack what HTTP/1.1
// needs, the page's own protection (CSP, no framing), and /metrics kept off
// the public port. Real hosts, raw sockets.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <thread>

namespace chathost::test {
namespace {

// grpc-chat and history-http in one host; `http_extra` adds history-http keys.
std::unique_ptr<TestHost> http_host(const std::filesystem::path& dir, const std::string& http_extra = "") {
  return host_beside_chat_service(dir, "history-http", history_http_table,
                                  "web_root = \"" + (source_dir() / "web").string() + "\"\n" + http_extra);
}

// The value of header `name` in a response head ("" when absent).
std::string header_of(const std::string& head, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(head, match, std::regex("\r\n" + name + ": ([^\r]*)\r\n", std::regex::icase))) return "";
  return match[1];
}

TEST(ExposureHttp, TransferEncodingOfAnyKindAndHttp11WithoutHostAreRefusedBeforeAnyBody) {
  TempDir dir;
  auto host = http_host(dir.path());
  const auto port = host->port("history-http");
  const std::vector<std::string> refused{
      // Not chunked: a front proxy may read the body one way and we another.
      "GET /history?room=r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "GET /history?room=r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      // Both: the classic smuggling pair.
      "POST /history HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      // HTTP/1.1 must name its host.
      "GET /healthz HTTP/1.1\r\n\r\n",
  };
  for (const auto& request : refused) {
    RawPeer peer(port);
    const auto head = peer.request(request);
    EXPECT_EQ(status_line(head), "HTTP/1.1 400 Bad Request") << request;
    EXPECT_EQ(header_of(head, "Connection"), "close") << request;
    EXPECT_TRUE(peer.wait_end(5s)) << "the connection closes after the refusal: " << request;
  }
  // HTTP/1.0 has no Host requirement; a plain HTTP/1.1 request is served.
  EXPECT_EQ(status_line(RawPeer(port).request("GET /config.json HTTP/1.0\r\n\r\n")), "HTTP/1.0 200 OK");
  EXPECT_EQ(status_line(RawPeer(port).request("GET /config.json HTTP/1.1\r\nHost: localhost\r\n\r\n")),
            "HTTP/1.1 200 OK");
}

TEST(ExposureHttp, ThePageRunsOnlyItsOwnScriptsTalksOnlyToItsServicesAndIsFramedByNobody) {
  TempDir dir;
  auto host = http_host(dir.path(), "ws_port = 8999\n");
  const auto port = host->port("history-http");
  RawPeer peer(port);
  const auto head = peer.request("GET / HTTP/1.1\r\nHost: localhost:" + std::to_string(port) + "\r\n\r\n");
  ASSERT_EQ(status_line(head), "HTTP/1.1 200 OK") << head;
  const auto csp = header_of(head, "Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("connect-src 'self' ws://localhost:8999 http://localhost:" + std::to_string(port)),
            std::string::npos)
      << csp;
  // The page's one inline script and one inline style, by hash; nothing inline else.
  EXPECT_TRUE(std::regex_search(csp, std::regex("script-src 'self' 'sha256-[A-Za-z0-9+/]+=*';"))) << csp;
  EXPECT_TRUE(std::regex_search(csp, std::regex("style-src 'self' 'sha256-[A-Za-z0-9+/]+=*';"))) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(header_of(head, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header_of(head, "Referrer-Policy"), "no-referrer");
  // An evil Host does not make its way into the policy either.
  const auto evil = RawPeer(port).request("GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n");
  EXPECT_EQ(header_of(evil, "Content-Security-Policy").find("evil"), std::string::npos);
}

TEST(ExposureHttp, MetricsOnTheirOwnListenerAreGoneFromThePublicPort) {
  TempDir dir;
  const auto metrics_port = free_tcp_port();
  auto host = http_host(dir.path(), "metrics_host = \"127.0.0.1\"\nmetrics_port = " + std::to_string(metrics_port) + "\n");
  const auto port = host->port("history-http");
  const auto get = [](std::uint16_t to, const std::string& path) {
    return status_line(RawPeer(to).request("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  };
  EXPECT_EQ(get(port, "/metrics"), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(get(port, "/config.json"), "HTTP/1.1 200 OK");
  EXPECT_EQ(get(metrics_port, "/metrics"), "HTTP/1.1 200 OK");
  EXPECT_EQ(get(metrics_port, "/healthz"), "HTTP/1.1 200 OK");
  EXPECT_EQ(get(metrics_port, "/"), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(get(metrics_port, "/history?room=r"), "HTTP/1.1 404 Not Found");
  EXPECT_TRUE(host->process().wait_for_line(std::regex("serving /metrics and /healthz on http://127.0.0.1:" +
                                                       std::to_string(metrics_port))));
}

// Idle sockets from one address are capped from accept: /healthz from
// another address is answered all the same.
TEST(ExposureHttp, IdleSocketsFromOneAddressAreCappedAndHealthFromAnotherIsAnswered) {
  TempDir dir;
  auto host = http_host(dir.path(), "max_connections_per_address = 5\n");
  const auto port = host->port("history-http");
  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < 5; ++i) idle.push_back(std::make_unique<RawPeer>(port));
  for (int i = 0; i < 20; ++i) {
    RawPeer refused(port);
    EXPECT_TRUE(refused.wait_end(5s));
    EXPECT_EQ(status_line(refused.buffered()), "HTTP/1.1 429 Too Many Requests") << refused.buffered();
  }
  RawPeer other(port, {.source = "127.0.0.2"});
  EXPECT_EQ(status_line(other.request("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")), "HTTP/1.1 200 OK");
}

// A host about to run out of file descriptors (its limit set low, every cap
// above it): the listener refuses sockets while the last descriptors stay
// free for what it already serves, and says so once a second at most, not
// ten times; what is connected chats on, and once the sockets go, new
// clients come in again.
TEST(ExposureHttp, AHostOutOfFileDescriptorsRefusesLogsOnceASecondAndCarriesOn) {
  TempDir dir;
  const auto chat_port = free_tcp_port();
  TestHost host(dir.path(),
                {.plugins = {"grpc-chat", "ws-proxy", "history-http"},
                 .tables = grpc_chat_table(chat_port) + ws_proxy_table(chat_port, "max_connections_per_address = 0\n") +
                           history_http_table(chat_port, "max_connections_per_address = 0\n"),
                 .open_files_limit = 256});
  EXPECT_TRUE(host.process().wait_for_line(std::regex("max_connections \\d+ is more than this process may open")));
  const auto http_port = host.port("history-http");
  WsClient alice(WsOptions{.port = host.port("ws-proxy"), .target = "/?user=alice&room=r"});
  ASSERT_TRUE(alice.wait_for(is_joined("r")));

  std::vector<std::unique_ptr<RawPeer>> idle;
  for (int i = 0; i < 400; ++i) idle.push_back(std::make_unique<RawPeer>(http_port));
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(host.process().wait_for_line(std::regex("refusing connections: this process is nearly out of file")))
      << host.output();
  std::this_thread::sleep_for(3s);
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::size_t lines = 0;
  for (const auto& line : host.process().lines()) lines += line.text.find("refusing connections") != std::string::npos;
  EXPECT_LE(lines, static_cast<std::size_t>(seconds) + 2) << host.output();

  // Alice was connected before: she chats on.
  alice.send(chat_message("r", "alice", "still here", "a1"));
  EXPECT_TRUE(alice.wait_for(is_ack_for("a1"))) << host.output();
  // The flood goes; health is answered again.
  idle.clear();
  std::string status;
  for (int i = 0; i < 50 && status != "HTTP/1.1 200 OK"; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      status = status_line(RawPeer(http_port).request("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    } catch (const std::exception&) {
    }
  }
  EXPECT_EQ(status, "HTTP/1.1 200 OK");
}

// The review's amplification: limit=1000 answers of 4 MB, asked for by
// connections that read nothing, took the host from 364 MB to 1.8 GB. Now
// an answer carries at most max_history_page_bytes (the newest messages,
// and has_more to page on), and calls and answers under way have a budget.
TEST(ExposureHttp, HistoryAnswersAreBoundedInBytesAndManyReadersThatNeverReadCostLittle) {
  TempDir dir;
  const auto chat_port = free_tcp_port();
  // ASan keeps freed memory in quarantine (256 MB by default): resident
  // memory would show what was ever allocated, not what is held.
  TestHost host(dir.path(),
                {.plugins = {"grpc-chat", "history-http"},
                 .tables = grpc_chat_table(chat_port, service_token_key()) +
                           history_http_table(chat_port, "max_history_page_bytes = 65536\n"
                                                         "max_connections_per_address = 0\n"),
                 .env = {{"ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:quarantine_size_mb=4"}}});
  const auto port = host.port("history-http");
  // 400 messages of 2000 bytes: 800 KB of history in one room.
  ChatStreamClient bridge(chat_channel("127.0.0.1", chat_port), test_service_token());
  bridge.send(join("big", "seeder"));
  ASSERT_TRUE(bridge.wait_for(is_joined("big")));
  const std::string content(2000, 'x');
  for (int i = 0; i < 400; ++i) bridge.send(chat_message("big", "seeder", content, "m" + std::to_string(i)));
  ASSERT_TRUE(bridge.wait_for(is_ack_for("m399"), 30s));

  const auto page = [&](const std::string& query) {
    RawPeer peer(port);
    const auto head = peer.request("GET /history?" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    EXPECT_EQ(status_line(head), "HTTP/1.1 200 OK");
    const auto length = std::stoul(header_of(head, "Content-Length"));
    EXPECT_LE(length, 70000U) << "about max_history_page_bytes";
    return peer.read_bytes(length);
  };
  // Reading backwards: the newest, and has_more.
  const auto newest = page("room=big&limit=1000");
  EXPECT_NE(newest.find("\"sequence\":\"400\""), std::string::npos);
  EXPECT_EQ(newest.find("\"sequence\":\"1\","), std::string::npos);
  EXPECT_NE(newest.find("\"has_more\":true"), std::string::npos);
  // Reading forwards: the oldest, and has_more.
  const auto oldest = page("room=big&limit=1000&after=0");
  EXPECT_NE(oldest.find("\"sequence\":\"1\""), std::string::npos);
  EXPECT_EQ(oldest.find("\"sequence\":\"400\""), std::string::npos);
  EXPECT_NE(oldest.find("\"has_more\":true"), std::string::npos);

  // 200 connections ask for the whole room and read nothing.
  const auto before = resident_bytes(host.process().pid());
  std::vector<std::unique_ptr<RawPeer>> silent;
  for (int i = 0; i < 200; ++i) {
    silent.push_back(std::make_unique<RawPeer>(port, RawPeerOptions{.receive_buffer_bytes = 4096}));
    silent.back()->send_bytes("GET /history?room=big&limit=1000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  }
  std::this_thread::sleep_for(2s);
  const auto after = resident_bytes(host.process().pid());
  EXPECT_LT(after, before + (96U << 20)) << "resident memory went from " << before << " to " << after;
  std::cout << "resident memory: " << before / 1024 << " KiB before, " << after / 1024 << " KiB after\n";
  // Someone else still gets an answer.
  EXPECT_NE(page("room=big&limit=10").find("\"has_more\":true"), std::string::npos);
}

// /history and /history/senders with a token: the rooms of its `rooms`
// claim, and no other.
TEST(ExposureHttp, HistoryOfARoomTheTokenDoesNotGrantIsForbidden) {
  TempDir dir;
  const std::string secret_text = "the token secret of these tests, more than 32 bytes";
  const auto secret = write_secret_file(dir.path(), "token-secret", secret_text);
  auto host = http_host(dir.path(), path_key("auth_secret_file", secret));
  const auto port = host->port("history-http");
  const auto now = std::chrono::system_clock::now();
  const auto token = chat::auth::mint_token(secret_text, "alice", now + std::chrono::hours(1), now,
                                            chat::auth::TokenClaims{.rooms = {"lobby", "team-*"}, .issuer = "", .audience = ""});
  for (const std::string route : {"/history", "/history/senders"}) {
    const auto ask = [&](const std::string& room) {
      return status_line(RawPeer(port).request("GET " + route + "?room=" + room +
                                               " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                               "Authorization: Bearer " + token + "\r\n\r\n"));
    };
    EXPECT_EQ(ask("lobby"), "HTTP/1.1 200 OK") << route;
    EXPECT_EQ(ask("team-blue"), "HTTP/1.1 200 OK") << route;
    EXPECT_EQ(ask("private-ceo"), "HTTP/1.1 403 Forbidden") << route;
  }
}

}  // namespace
}  // namespace chathost::test
