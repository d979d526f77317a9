// RFC 6455 framing for the server side, with no I/O: a parser for what
// clients send (masked frames, fragmented messages, control frames between
// fragments) and the header of what the server sends (unmasked, one frame per
// message). WsSession feeds it the bytes it reads; the fuzz target and the
// unit tests feed it anything.
//
// The parser works in place: it unmasks the caller's bytes and hands out
// views of them, so a message that arrives in one read is never copied. Only
// a frame split across reads, or a fragmented message, is kept in a buffer of
// the parser's own, given back once the message is complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace chat::proxy::ws {

enum class Opcode : std::uint8_t { continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

// The close codes this server sends or expects (RFC 6455, 7.4.1).
enum class CloseCode : std::uint16_t {
  normal = 1000,
  going_away = 1001,
  protocol_error = 1002,
  no_status = 1005,  // a close frame without a code; never sent
  bad_payload = 1007,
  policy_error = 1008,
  too_big = 1009,
  internal_error = 1011,
};

// A server frame's header: FIN set, no mask. At most kMaxHeaderBytes.
inline constexpr std::size_t kMaxHeaderBytes = 10;
std::size_t write_header(char* out, Opcode opcode, std::uint64_t payload_bytes);

// A whole control frame (close, ping or pong) as the server sends it. A close
// frame's reason is cut to fit the 125 bytes a control frame may carry.
std::string control_frame(Opcode opcode, std::string_view payload);
// The same, written over `out` in the capacity it already has: a pong
// answering a ping flood costs no allocation per ping.
void control_frame(Opcode opcode, std::string_view payload, std::string& out);
std::string close_frame(CloseCode code, std::string_view reason);

// What the parser found. Views point into the bytes given to feed() or into
// the parser's buffer; they are valid during the callback only.
struct Event {
  enum class Kind { text, binary, ping, pong, close, error };
  Kind kind = Kind::error;
  // text, binary: the whole message. ping, pong: their payload. close: the reason.
  std::string_view payload;
  // close: the client's code (1005 when it sent none). error: the code to close with.
  std::uint16_t code = 0;
  // error: what was wrong, for the log.
  std::string_view why;
};

class FrameParser {
 public:
  using Handler = std::function<void(const Event&)>;

  // `max_message_bytes` bounds a message, fragments included; longer ones are
  // an error with code 1009 as soon as their header says so.
  explicit FrameParser(std::size_t max_message_bytes) : max_message_(max_message_bytes) {}

  // Parses `data` (and unmasks it in place), calling `on_event` for each
  // message and control frame, in order. Returns false once the stream is
  // over: after a close frame or an error, which are the last events, and
  // for every later call.
  bool feed(char* data, std::size_t size, const Handler& on_event);

 private:
  // Parses whole frames from [data, data + size); returns how many bytes it used.
  std::size_t parse(char* data, std::size_t size, const Handler& on_event);
  // Ends the stream with an error event; returns `at`, the bytes parse() used.
  std::size_t fail(const Handler& on_event, CloseCode code, std::string_view why, std::size_t at);

  std::size_t max_message_;
  std::string pending_;  // the start of a frame that did not arrive whole
  std::string message_;  // fragments of an unfinished message
  Opcode message_opcode_ = Opcode::text;
  bool in_message_ = false;
  bool over_ = false;
};

}  // namespace chat::proxy::ws
