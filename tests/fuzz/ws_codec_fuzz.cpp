// ws-proxy's WebSocket frame parser (plugins/ws-proxy/ws_codec.cpp), which
// reads every byte a client sends after the upgrade.
//
// The input's first byte picks where the rest is cut into reads; the rest is
// the byte stream. Properties:
//  - the same events, in the same order, whether the stream arrives whole or
//    in those pieces;
//  - a text or binary message is at most the limit; a text message and a
//    close reason are well-formed UTF-8; control payloads are at most 125 bytes;
//  - close and error are the last events, and an error's code is 1002, 1007
//    or 1009; a close's code is one a client may send, or 1005;
//  - nothing is kept once the stream is over past what was buffered.
#include "fuzz_check.hpp"

#include "ws_codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using chat::fuzz::is_well_formed_utf8;
using chat::proxy::ws::Event;
using chat::proxy::ws::FrameParser;

constexpr std::size_t kMaxMessage = 1024;

struct Seen {
  Event::Kind kind;
  std::string payload;
  std::uint16_t code;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> run(const std::string& stream, std::size_t piece) {
  FrameParser parser(kMaxMessage);
  std::vector<Seen> seen;
  auto record = [&seen](const Event& event) {
    if (event.kind == Event::Kind::error) FUZZ_CHECK(!event.why.empty());
    seen.push_back({event.kind, std::string(event.payload), event.code});
  };
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    std::string chunk = stream.substr(at, piece);  // feed() unmasks in place: a copy each time
    if (!parser.feed(chunk.data(), chunk.size(), record)) {
      FUZZ_CHECK(!parser.feed(chunk.data(), 0, record));  // over stays over
      break;
    }
  }
  return seen;
}

bool client_may_send(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 32;
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto whole = run(stream, stream.size() + 1);
  const auto split = run(stream, piece);
  FUZZ_CHECK(whole == split);

  for (std::size_t i = 0; i < whole.size(); ++i) {
    const Seen& event = whole[i];
    switch (event.kind) {
      case Event::Kind::text:
        FUZZ_CHECK(is_well_formed_utf8(event.payload));
        [[fallthrough]];
      case Event::Kind::binary:
        FUZZ_CHECK(event.payload.size() <= kMaxMessage);
        break;
      case Event::Kind::ping:
      case Event::Kind::pong:
        FUZZ_CHECK(event.payload.size() <= 125);
        break;
      case Event::Kind::close:
        FUZZ_CHECK(i + 1 == whole.size());
        FUZZ_CHECK(event.code == 1005 || client_may_send(event.code));
        FUZZ_CHECK(is_well_formed_utf8(event.payload) && event.payload.size() <= 123);
        break;
      case Event::Kind::error:
        FUZZ_CHECK(i + 1 == whole.size());
        FUZZ_CHECK(event.code == 1002 || event.code == 1007 || event.code == 1009);
        break;
    }
  }
  return 0;
}
