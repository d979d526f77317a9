// ws-proxy's upgrade decision (decide_upgrade) without a socket: what each
// request is answered, down to the bytes of the answer.
#include "upgrade_decision.hpp"

#include "auth/jwt.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace chat::proxy {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSecret = "the token secret of these tests, more than 32 bytes";
// RFC 6455 section 1.3's example key and its answer.
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr const char* kAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

UpgradeRequest upgrade(std::string_view target = "/") {
  UpgradeRequest request;
  request.is_get = true;
  request.target = target;
  request.connection = "keep-alive, Upgrade";
  request.upgrade = "websocket";
  request.websocket_version = "13";
  request.websocket_key = kKey;
  return request;
}

ProxyOptions open_options() {
  ProxyOptions options;
  options.allowed_origins = {"https://chat.example.org", "null"};
  return options;
}

bool has(const std::string& answer, const std::string& text) { return answer.find(text) != std::string::npos; }

TEST(UpgradeDecision, AWebSocketUpgradeIsAnsweredWithSwitchingProtocolsAndTheAcceptKey) {
  const auto decision = decide_upgrade(upgrade("/?user=alice&room=lobby"), open_options());
  ASSERT_TRUE(decision.target);
  EXPECT_EQ(decision.status, 101U);
  EXPECT_EQ(decision.target->user, "alice");
  EXPECT_EQ(decision.target->room, "lobby");
  EXPECT_EQ(decision.answer.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0U);
  EXPECT_TRUE(has(decision.answer, std::string("Sec-WebSocket-Accept: ") + kAccept + "\r\n"));
  EXPECT_TRUE(has(decision.answer, "Upgrade: websocket\r\nConnection: Upgrade\r\n"));
  EXPECT_FALSE(has(decision.answer, "Sec-WebSocket-Extensions"));  // no permessage-deflate
  EXPECT_EQ(decision.answer.substr(decision.answer.size() - 4), "\r\n\r\n");
  EXPECT_FALSE(decision.token_expires_at);
}

TEST(UpgradeDecision, WhatIsNoWebSocketUpgradeGets426WithTheHeadersToUse) {
  auto post = upgrade();
  post.is_get = false;
  auto http10 = upgrade();
  http10.version = 10;
  auto plain = upgrade();
  plain.upgrade = "";
  auto no_connection_upgrade = upgrade();
  no_connection_upgrade.connection = "keep-alive";
  for (const auto& request : {post, http10, plain, no_connection_upgrade}) {
    const auto decision = decide_upgrade(request, open_options());
    EXPECT_FALSE(decision.target);
    EXPECT_EQ(decision.status, 426U);
    EXPECT_TRUE(has(decision.answer, "Upgrade: websocket\r\nConnection: Upgrade\r\n"));
    EXPECT_TRUE(has(decision.answer, "\r\nConnection: close\r\n"));
    EXPECT_TRUE(has(decision.answer, "\r\n\r\nthis is a WebSocket endpoint: connect with ws://\n"));
  }
}

TEST(UpgradeDecision, EachBadPartOfTheRequestHasItsOwnStatus) {
  struct Case {
    UpgradeRequest request;
    unsigned status;
    std::string body;
  };
  auto wrong_version = upgrade();
  wrong_version.websocket_version = "8";
  auto bad_key = upgrade();
  bad_key.websocket_key = "not base64 of 16 bytes";
  const Case cases[] = {
      {upgrade("/chat"), 404, ""},
      {upgrade("/?user=%ZZ"), 400, ""},
      {upgrade("/?room=lobby"), 400, "room= needs user= (who joins the room)\n"},
      {wrong_version, 426, "WebSocket version 13 only\n"},
      {bad_key, 400, "missing or malformed Sec-WebSocket-Key\n"},
  };
  for (const auto& c : cases) {
    const auto decision = decide_upgrade(c.request, open_options());
    EXPECT_FALSE(decision.target) << c.request.target;
    EXPECT_EQ(decision.status, c.status) << c.request.target << ": " << decision.answer;
    EXPECT_EQ(decision.answer.rfind("HTTP/1.1 " + std::to_string(c.status) + " ", 0), 0U) << decision.answer;
    if (!c.body.empty()) {
      EXPECT_TRUE(has(decision.answer, "\r\n\r\n" + c.body)) << decision.answer;
    }
  }
  EXPECT_TRUE(has(decide_upgrade(wrong_version, open_options()).answer, "Sec-WebSocket-Version: 13\r\n"));
}

TEST(UpgradeDecision, AnOriginIsCheckedExactlyAndARequestWithoutOneIsNoBrowsers) {
  auto from = [](std::optional<std::string_view> origin) {
    auto request = upgrade();
    request.origin = origin;
    return decide_upgrade(request, open_options());
  };
  EXPECT_TRUE(from("https://chat.example.org").target);
  EXPECT_TRUE(from("null").target);     // a page opened as a file, listed
  EXPECT_TRUE(from(std::nullopt).target);  // not a browser page
  for (const auto* refused : {"https://evil.example", "https://chat.example.org.evil.example", "", "HTTPS://CHAT.EXAMPLE.ORG"}) {
    const auto decision = from(refused);
    EXPECT_FALSE(decision.target) << refused;
    EXPECT_EQ(decision.status, 403U);
    EXPECT_EQ(decision.why, "origin '" + std::string(refused) + "' not allowed");
    EXPECT_TRUE(has(decision.answer, "\r\n\r\norigin not allowed\n"));
  }
  auto any = open_options();
  any.allowed_origins = {"*"};
  auto request = upgrade();
  request.origin = "https://anywhere.example";
  EXPECT_TRUE(decide_upgrade(request, any).target);
}

TEST(UpgradeDecision, WithTokensTheTokenSaysWhoAndWhichRoomsAndUntilWhen) {
  auto options = open_options();
  options.token_verifier = std::make_shared<chat::auth::TokenVerifier>(kSecret);
  const auto now = std::chrono::system_clock::now();
  const auto token = chat::auth::mint_token(kSecret, "alice", now + 1h, now,
                                            chat::auth::TokenClaims{.rooms = {"lobby"}, .issuer = "", .audience = ""});

  const auto none = decide_upgrade(upgrade("/?room=lobby"), options);
  EXPECT_EQ(none.status, 401U);
  EXPECT_TRUE(has(none.answer, "WWW-Authenticate: Bearer realm=\"chat-host\""));

  const std::string in_query = "/?room=lobby&access_token=" + token;
  const auto accepted = decide_upgrade(upgrade(in_query), options);
  ASSERT_TRUE(accepted.target) << accepted.answer;
  EXPECT_EQ(accepted.target->user, "alice");  // the token's subject
  ASSERT_TRUE(accepted.token_expires_at);
  EXPECT_GT(*accepted.token_expires_at, now + 59min);

  auto in_header = upgrade("/");
  const std::string bearer = "Bearer " + token;
  in_header.authorization = bearer;
  EXPECT_TRUE(decide_upgrade(in_header, options).target);

  const std::string as_bob = "/?user=bob&access_token=" + token;
  const auto impostor = decide_upgrade(upgrade(as_bob), options);
  EXPECT_EQ(impostor.status, 401U);
  EXPECT_TRUE(has(impostor.answer, "\r\n\r\nuser= is not the token's subject\n"));

  const std::string elsewhere = "/?room=ceo&access_token=" + token;
  const auto not_granted = decide_upgrade(upgrade(elsewhere), options);
  EXPECT_EQ(not_granted.status, 403U);
  EXPECT_TRUE(has(not_granted.answer, "\r\n\r\nthe token does not grant room 'ceo'\n"));
}

TEST(UpgradeDecision, ARefusalBeforeAnyRequestIsAPlainAnswerThatCloses) {
  const auto decision = upgrade_refusal(431, "request headers too large");
  EXPECT_FALSE(decision.target);
  EXPECT_EQ(decision.answer,
            "HTTP/1.1 431 Request Header Fields Too Large\r\nServer: chat-host ws-proxy\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 26\r\nConnection: close\r\n\r\n"
            "request headers too large\n");
}

}  // namespace
}  // namespace chat::proxy
