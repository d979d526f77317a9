#include "ws_codec.hpp"

#include "chat_text.hpp"

#include <algorithm>
#include <cstring>

namespace chat::proxy::ws {

namespace {

constexpr std::size_t kMaxControlPayload = 125;
// A buffer that grew for one large frame or message is given back after it.
constexpr std::size_t kKeptBuffer = 4 * 1024;

std::uint64_t read_big_endian(const char* data, std::size_t bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < bytes; ++i) value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

void unmask(char* data, std::size_t size, const char* key) {
  // Eight bytes at a time: the key repeats every four, so doubling it gives a word.
  unsigned char key8[8];
  for (std::size_t i = 0; i < 8; ++i) key8[i] = static_cast<unsigned char>(key[i % 4]);
  std::uint64_t word_key = 0;
  std::memcpy(&word_key, key8, 8);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data + i, 8);
    word ^= word_key;
    std::memcpy(data + i, &word, 8);
  }
  for (; i < size; ++i) data[i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ key8[i % 4]);
}

// Codes a client may send (RFC 6455 7.4.1 and 7.4.2): the defined ones it
// may put on the wire, and the ranges for libraries and applications.
bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

bool is_control(Opcode opcode) { return (static_cast<std::uint8_t>(opcode) & 0x8) != 0; }

Event make_event(Event::Kind kind, std::string_view payload, std::uint16_t code = 0, std::string_view why = {}) {
  return Event{.kind = kind, .payload = payload, .code = code, .why = why};
}

void release_if_large(std::string& buffer) {
  buffer.clear();
  if (buffer.capacity() > kKeptBuffer) std::string().swap(buffer);
}

}  // namespace

std::size_t write_header(char* out, Opcode opcode, std::uint64_t payload_bytes) {
  out[0] = static_cast<char>(0x80 | static_cast<std::uint8_t>(opcode));
  if (payload_bytes < 126) {
    out[1] = static_cast<char>(payload_bytes);
    return 2;
  }
  if (payload_bytes <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<char>(payload_bytes >> 8);
    out[3] = static_cast<char>(payload_bytes & 0xFF);
    return 4;
  }
  out[1] = 127;
  for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<char>((payload_bytes >> (56 - 8 * i)) & 0xFF);
  return 10;
}

std::string control_frame(Opcode opcode, std::string_view payload) {
  std::string frame;
  control_frame(opcode, payload, frame);
  return frame;
}

void control_frame(Opcode opcode, std::string_view payload, std::string& out) {
  payload = payload.substr(0, kMaxControlPayload);
  out.resize(kMaxHeaderBytes);
  out.resize(write_header(out.data(), opcode, payload.size()));
  out.append(payload);
}

std::string close_frame(CloseCode code, std::string_view reason) {
  const auto value = static_cast<std::uint16_t>(code);
  std::string payload;
  payload.push_back(static_cast<char>(value >> 8));
  payload.push_back(static_cast<char>(value & 0xFF));
  // Cut to fit, but never inside a UTF-8 sequence.
  std::size_t keep = std::min(reason.size(), kMaxControlPayload - 2);
  while (keep > 0 && keep < reason.size() && (static_cast<unsigned char>(reason[keep]) & 0xC0) == 0x80) --keep;
  payload.append(reason.substr(0, keep));
  return control_frame(Opcode::close, payload);
}

bool FrameParser::feed(char* data, std::size_t size, const Handler& on_event) {
  if (over_) return false;
  if (pending_.empty()) {
    const std::size_t used = parse(data, size, on_event);
    if (!over_ && used < size) pending_.assign(data + used, size - used);
  } else {
    pending_.append(data, size);
    const std::size_t used = parse(pending_.data(), pending_.size(), on_event);
    if (over_ || used == pending_.size()) {
      release_if_large(pending_);
    } else {
      pending_.erase(0, used);
    }
  }
  return !over_;
}

std::size_t FrameParser::fail(const Handler& on_event, CloseCode code, std::string_view why, std::size_t at) {
  over_ = true;
  on_event(make_event(Event::Kind::error, {}, static_cast<std::uint16_t>(code), why));
  return at;
}

std::size_t FrameParser::parse(char* data, std::size_t size, const Handler& on_event) {
  std::size_t at = 0;
  while (!over_) {
    const std::size_t left = size - at;
    if (left < 2) break;
    const char* head = data + at;
    const auto b0 = static_cast<unsigned char>(head[0]);
    const auto b1 = static_cast<unsigned char>(head[1]);
    const bool fin = (b0 & 0x80) != 0;
    const auto opcode = static_cast<Opcode>(b0 & 0x0F);
    std::size_t header = 2;
    std::uint64_t length = b1 & 0x7F;
    if (length == 126) {
      if (left < 4) break;
      length = read_big_endian(head + 2, 2);
      header = 4;
      if (length < 126) return fail(on_event, CloseCode::protocol_error, "length not minimally encoded", at);
    } else if (length == 127) {
      if (left < 10) break;
      length = read_big_endian(head + 2, 8);
      header = 10;
      if (length <= 0xFFFF) return fail(on_event, CloseCode::protocol_error, "length not minimally encoded", at);
      if ((length >> 63) != 0) return fail(on_event, CloseCode::protocol_error, "length over 2^63", at);
    }
    if ((b0 & 0x70) != 0) return fail(on_event, CloseCode::protocol_error, "reserved bits set", at);
    if ((b1 & 0x80) == 0) return fail(on_event, CloseCode::protocol_error, "client frames must be masked", at);
    switch (opcode) {
      case Opcode::close:
      case Opcode::ping:
      case Opcode::pong:
        if (!fin) return fail(on_event, CloseCode::protocol_error, "fragmented control frame", at);
        if (length > kMaxControlPayload) {
          return fail(on_event, CloseCode::protocol_error, "control frame over 125 bytes", at);
        }
        break;
      case Opcode::continuation:
        if (!in_message_) return fail(on_event, CloseCode::protocol_error, "continuation without a message", at);
        break;
      case Opcode::text:
      case Opcode::binary:
        if (in_message_) return fail(on_event, CloseCode::protocol_error, "new message inside a fragmented one", at);
        break;
      default:
        return fail(on_event, CloseCode::protocol_error, "unknown opcode", at);
    }
    if (!is_control(opcode) && length > max_message_ - (in_message_ ? message_.size() : 0)) {
      return fail(on_event, CloseCode::too_big, "message too big", at);
    }
    header += 4;  // the mask key
    if (left < header || left - header < length) break;  // the rest is still on its way

    char* payload = data + at + header;
    const auto size_of_payload = static_cast<std::size_t>(length);
    unmask(payload, size_of_payload, payload - 4);
    at += header + size_of_payload;
    std::string_view view(payload, size_of_payload);

    switch (opcode) {
      case Opcode::ping:
        on_event(make_event(Event::Kind::ping, view));
        continue;
      case Opcode::pong:
        on_event(make_event(Event::Kind::pong, view));
        continue;
      case Opcode::close: {
        if (view.size() == 1) return fail(on_event, CloseCode::protocol_error, "close frame of one byte", at);
        std::uint16_t code = static_cast<std::uint16_t>(CloseCode::no_status);
        if (view.size() >= 2) {
          code = static_cast<std::uint16_t>(read_big_endian(view.data(), 2));
          if (!valid_close_code(code)) return fail(on_event, CloseCode::protocol_error, "invalid close code", at);
          view.remove_prefix(2);
          if (!chat::text::is_valid_utf8(view)) {
            return fail(on_event, CloseCode::bad_payload, "close reason not UTF-8", at);
          }
        }
        over_ = true;
        on_event(make_event(Event::Kind::close, view, code));
        return at;
      }
      case Opcode::continuation:
        message_.append(view);
        if (!fin) continue;
        view = message_;
        in_message_ = false;
        break;
      default:  // text or binary
        if (!fin) {
          in_message_ = true;
          message_opcode_ = opcode;
          message_.assign(view);
          continue;
        }
        message_opcode_ = opcode;
        break;
    }
    // A whole message: `view` is in `data` or, when fragmented, in message_.
    if (message_opcode_ == Opcode::text) {
      if (!chat::text::is_valid_utf8(view)) return fail(on_event, CloseCode::bad_payload, "text not UTF-8", at);
      on_event(make_event(Event::Kind::text, view));
    } else {
      on_event(make_event(Event::Kind::binary, view));
    }
    if (!message_.empty()) release_if_large(message_);
  }
  return at;
}

}  // namespace chat::proxy::ws
