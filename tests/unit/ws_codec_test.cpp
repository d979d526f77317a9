// ws-proxy's WebSocket framing (plugins/ws-proxy/ws_codec.hpp): what a
// client may send, split any way across reads, and what the server writes.
#include "handshake.hpp"
#include "ws_codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using chat::proxy::ws::CloseCode;
using chat::proxy::ws::Event;
using chat::proxy::ws::FrameParser;
using chat::proxy::ws::Opcode;

// A client frame: masked, as RFC 6455 requires of clients.
std::string client_frame(std::uint8_t opcode, std::string_view payload, bool fin = true,
                         std::string_view mask = "\x12\x34\x56\x78", int length_bytes = 0) {
  std::string frame;
  frame.push_back(static_cast<char>((fin ? 0x80 : 0x00) | opcode));
  const std::uint64_t size = payload.size();
  if (length_bytes == 0) length_bytes = size < 126 ? 1 : size <= 0xFFFF ? 2 : 8;
  if (length_bytes == 1) {
    frame.push_back(static_cast<char>(0x80 | size));
  } else if (length_bytes == 2) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(size >> 8));
    frame.push_back(static_cast<char>(size & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) frame.push_back(static_cast<char>((size >> (8 * i)) & 0xFF));
  }
  frame.append(mask);
  for (std::size_t i = 0; i < payload.size(); ++i) frame.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return frame;
}

struct Seen {
  Event::Kind kind;
  std::string payload;
  std::uint16_t code;
};

// Feeds `bytes` in pieces of `piece` bytes (0: all at once); collects events.
std::vector<Seen> parse(std::string bytes, std::size_t piece = 0, std::size_t max = 1024) {
  FrameParser parser(max);
  std::vector<Seen> seen;
  auto record = [&seen](const Event& event) { seen.push_back({event.kind, std::string(event.payload), event.code}); };
  if (piece == 0) piece = bytes.size();
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    std::string chunk = bytes.substr(at, piece);
    if (!parser.feed(chunk.data(), chunk.size(), record)) break;
  }
  return seen;
}

TEST(WsCodec, ATextFrameIsUnmaskedAndDeliveredWhole) {
  const auto seen = parse(client_frame(0x1, R"({"chat_message":{}})"));
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].kind, Event::Kind::text);
  EXPECT_EQ(seen[0].payload, R"({"chat_message":{}})");
}

TEST(WsCodec, EveryWayOfSplittingTheBytesGivesTheSameMessages) {
  const std::string big(300, 'b');  // a 16-bit length
  const std::string stream = client_frame(0x1, "one") + client_frame(0x9, "ping!") + client_frame(0x1, big) +
                             client_frame(0x1, "fra", false) + client_frame(0xA, "") + client_frame(0x0, "gm", false) +
                             client_frame(0x0, "ent") + client_frame(0x2, std::string("\x00\x01", 2));
  const auto whole = parse(stream);
  ASSERT_EQ(whole.size(), 6U);
  EXPECT_EQ(whole[0].payload, "one");
  EXPECT_EQ(whole[1].kind, Event::Kind::ping);
  EXPECT_EQ(whole[1].payload, "ping!");
  EXPECT_EQ(whole[2].payload, big);
  EXPECT_EQ(whole[3].kind, Event::Kind::pong);  // a control frame between fragments
  EXPECT_EQ(whole[4].kind, Event::Kind::text);
  EXPECT_EQ(whole[4].payload, "fragment");
  EXPECT_EQ(whole[5].kind, Event::Kind::binary);
  for (std::size_t piece = 1; piece < 20; ++piece) {
    const auto split = parse(stream, piece);
    ASSERT_EQ(split.size(), whole.size()) << "pieces of " << piece;
    for (std::size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(split[i].kind, whole[i].kind) << "pieces of " << piece;
      EXPECT_EQ(split[i].payload, whole[i].payload) << "pieces of " << piece;
    }
  }
}

TEST(WsCodec, ACloseFrameEndsTheStreamWithItsCodeAndReason) {
  const auto seen = parse(client_frame(0x8, std::string("\x03\xE8", 2) + "bye") + client_frame(0x1, "after"));
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].kind, Event::Kind::close);
  EXPECT_EQ(seen[0].code, 1000);
  EXPECT_EQ(seen[0].payload, "bye");

  const auto empty = parse(client_frame(0x8, ""));
  ASSERT_EQ(empty.size(), 1U);
  EXPECT_EQ(empty[0].code, static_cast<std::uint16_t>(CloseCode::no_status));
}

// Every protocol error is the last event, with the code to close with.
void expect_error(const std::string& bytes, CloseCode code, std::size_t max = 1024) {
  const auto seen = parse(bytes, 0, max);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().kind, Event::Kind::error);
  EXPECT_EQ(seen.back().code, static_cast<std::uint16_t>(code));
}

TEST(WsCodec, ProtocolErrorsCloseWith1002) {
  std::string unmasked = client_frame(0x1, "hi");
  unmasked[1] = static_cast<char>(unmasked[1] & 0x7F);
  expect_error(unmasked, CloseCode::protocol_error);
  std::string reserved = client_frame(0x1, "hi");
  reserved[0] = static_cast<char>(reserved[0] | 0x40);
  expect_error(reserved, CloseCode::protocol_error);
  expect_error(client_frame(0x3, "x"), CloseCode::protocol_error);                     // unknown opcode
  expect_error(client_frame(0x0, "x"), CloseCode::protocol_error);                     // nothing to continue
  expect_error(client_frame(0x1, "a", false) + client_frame(0x1, "b"), CloseCode::protocol_error);
  expect_error(client_frame(0x9, "x", false), CloseCode::protocol_error);              // fragmented ping
  expect_error(client_frame(0x9, std::string(126, 'p')), CloseCode::protocol_error);   // control over 125
  expect_error(client_frame(0x8, "x"), CloseCode::protocol_error);                     // one-byte close
  expect_error(client_frame(0x8, std::string("\x03\xED", 2)), CloseCode::protocol_error);  // 1005 may not be sent
  expect_error(client_frame(0x1, "short", true, std::string_view("\0\0\0\0", 4), 2), CloseCode::protocol_error);  // not minimal
}

TEST(WsCodec, InvalidUtf8TextClosesWith1007) {
  expect_error(client_frame(0x1, "bad \xff bytes"), CloseCode::bad_payload);
  expect_error(client_frame(0x1, "\xe2\x82", false) + client_frame(0x0, "x"), CloseCode::bad_payload);
  expect_error(client_frame(0x8, std::string("\x03\xE8\xff", 3)), CloseCode::bad_payload);
  // A character split across fragments is fine.
  const auto split = parse(client_frame(0x1, "\xe2\x82", false) + client_frame(0x0, "\xac"));
  ASSERT_EQ(split.size(), 1U);
  EXPECT_EQ(split[0].payload, "\xe2\x82\xac");
}

TEST(WsCodec, AMessageOverTheLimitClosesWith1009AsSoonAsItsHeaderSaysSo) {
  expect_error(client_frame(0x1, std::string(101, 'x')), CloseCode::too_big, 100);
  expect_error(client_frame(0x1, std::string(60, 'x'), false) + client_frame(0x0, std::string(41, 'x')),
               CloseCode::too_big, 100);
  // The header alone is enough: the payload never has to arrive.
  const std::string header = client_frame(0x1, std::string(70000, 'x')).substr(0, 14);
  expect_error(header, CloseCode::too_big, 65536);
  EXPECT_EQ(parse(client_frame(0x1, std::string(100, 'x')), 0, 100).at(0).kind, Event::Kind::text);
}

TEST(WsCodec, ServerHeadersUseTheShortestLength) {
  char header[chat::proxy::ws::kMaxHeaderBytes];
  EXPECT_EQ(chat::proxy::ws::write_header(header, Opcode::text, 125), 2U);
  EXPECT_EQ(static_cast<unsigned char>(header[0]), 0x81);
  EXPECT_EQ(static_cast<unsigned char>(header[1]), 125);
  EXPECT_EQ(chat::proxy::ws::write_header(header, Opcode::text, 126), 4U);
  EXPECT_EQ(static_cast<unsigned char>(header[1]), 126);
  EXPECT_EQ(chat::proxy::ws::write_header(header, Opcode::text, 65536), 10U);
  EXPECT_EQ(static_cast<unsigned char>(header[1]), 127);
  EXPECT_EQ(static_cast<unsigned char>(header[7]), 1);  // 65536 = 0x10000

  const std::string close = chat::proxy::ws::close_frame(CloseCode::too_big, std::string(200, 'r'));
  EXPECT_EQ(close.size(), 2U + 125U);  // cut to what a control frame may carry
  EXPECT_EQ(static_cast<unsigned char>(close[2]), 0x03);
  EXPECT_EQ(static_cast<unsigned char>(close[3]), 0xF1);  // 1009
}

TEST(WsHandshake, TheAcceptKeyIsTheRfcExample) {
  // RFC 6455, 1.3.
  EXPECT_EQ(chat::proxy::websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(chat::proxy::valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
  EXPECT_FALSE(chat::proxy::valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ"));
  EXPECT_FALSE(chat::proxy::valid_websocket_key("dGhlIHNhbXBsZSBub25jZQ=!"));
  EXPECT_FALSE(chat::proxy::valid_websocket_key(""));
}

}  // namespace
