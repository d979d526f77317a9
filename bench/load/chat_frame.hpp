// The only frames chat-load speaks: the exercise's chat_message, as JSON text.
//
//   {"chat_message":{"id":"<tag>-<client>-<seq>","room_id":"room-3",
//                    "sender_id":"client-42","content":"<payload>"}}
//
// The content carries what the generator needs back from a delivery:
//
//   b1:<tag>:<phase><client>:<seq>:<send time, steady clock ns>:xxxx...
//
// padded with 'x' to the requested size. Only characters that no JSON
// encoder escapes, so the content comes back byte for byte. <tag> names one
// generator run: frames of other runs or other generator processes are not
// counted as ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace chathost::bench {

// Why a message was sent, so a delivery is counted where it belongs.
enum class Phase : char {
  Join = 'j',      // a client's first message, which makes it a room member
  Warmup = 'w',    // sent during warm-up: delivered, not measured
  Measured = 'm',  // sent in the measured window
  Seed = 's',      // history seeding
};

struct OutgoingMessage {
  std::string_view tag;
  std::string_view room;
  std::string_view sender_prefix;  // "client-": sender_id is prefix + client
  std::uint32_t client = 0;
  Phase phase = Phase::Measured;
  std::uint64_t seq = 0;
  std::int64_t send_ns = 0;
  std::size_t content_size = 0;  // the payload is padded up to this many bytes
};

// Writes the frame into `out`, replacing what it held; `out` keeps its
// capacity, so a reused string allocates only on the first message.
void write_chat_frame(std::string& out, const OutgoingMessage& message);

// The content's length without padding, for --help and size checks.
std::size_t payload_header_size(const OutgoingMessage& message);

enum class FrameKind {
  ChatMessage,  // a chat_message object, ours or not
  Error,        // a frame whose first key is "error"
  Other,        // ack, presence, joined, service_status, ...
};

struct BenchPayload {
  Phase phase = Phase::Measured;
  std::uint32_t client = 0;
  std::uint64_t seq = 0;
  std::int64_t send_ns = 0;
};

struct ReceivedFrame {
  FrameKind kind = FrameKind::Other;
  std::optional<BenchPayload> payload;  // set for chat messages of this run
};

// Classifies a received text frame without building a JSON tree: it looks
// for a "chat_message" object and the "content" string inside it. Works for
// any key order and whitespace a JSON encoder may produce.
ReceivedFrame read_chat_frame(std::string_view frame, std::string_view tag);

// A run tag: 8 lowercase hex digits, different for each process and call.
std::string make_run_tag();

}  // namespace chathost::bench
