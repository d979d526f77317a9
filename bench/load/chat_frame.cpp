#include "chat_frame.hpp"

#include <unistd.h>

#include <array>
#include <charconv>
#include <chrono>
#include <random>

namespace chathost::bench {

namespace {

template <typename Integer>
void append_number(std::string& out, Integer value) {
  std::array<char, 24> digits{};
  auto [end, ec] = std::to_chars(digits.data(), digits.data() + digits.size(), value);
  (void)ec;  // 24 characters hold any 64-bit integer
  out.append(digits.data(), end);
}

void append_content_header(std::string& out, const OutgoingMessage& m) {
  out += "b1:";
  out += m.tag;
  out += ':';
  out += static_cast<char>(m.phase);
  append_number(out, m.client);
  out += ':';
  append_number(out, m.seq);
  out += ':';
  append_number(out, m.send_ns);
  out += ':';
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t pos) {
  while (pos < s.size() && is_space(s[pos])) ++pos;
  return pos;
}

// Position just after `"key"` followed by optional space, ':' and optional
// space, searching from `from`; npos if there is none.
std::size_t find_key(std::string_view frame, std::string_view quoted_key, std::size_t from) {
  for (auto pos = frame.find(quoted_key, from); pos != std::string_view::npos;
       pos = frame.find(quoted_key, pos + 1)) {
    auto after = skip_space(frame, pos + quoted_key.size());
    if (after < frame.size() && frame[after] == ':') return skip_space(frame, after + 1);
  }
  return std::string_view::npos;
}

template <typename Integer>
bool parse_number(std::string_view& rest, Integer& value) {
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc{} || end == rest.data()) return false;
  rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
  return true;
}

bool consume(std::string_view& rest, char c) {
  if (rest.empty() || rest.front() != c) return false;
  rest.remove_prefix(1);
  return true;
}

std::optional<BenchPayload> parse_content(std::string_view content, std::string_view tag) {
  if (!content.starts_with("b1:")) return std::nullopt;
  content.remove_prefix(3);
  if (!content.starts_with(tag)) return std::nullopt;
  content.remove_prefix(tag.size());
  if (!consume(content, ':') || content.empty()) return std::nullopt;
  BenchPayload payload;
  switch (content.front()) {
    case 'j': payload.phase = Phase::Join; break;
    case 'w': payload.phase = Phase::Warmup; break;
    case 'm': payload.phase = Phase::Measured; break;
    case 's': payload.phase = Phase::Seed; break;
    default: return std::nullopt;
  }
  content.remove_prefix(1);
  if (!parse_number(content, payload.client) || !consume(content, ':')) return std::nullopt;
  if (!parse_number(content, payload.seq) || !consume(content, ':')) return std::nullopt;
  if (!parse_number(content, payload.send_ns) || !consume(content, ':')) return std::nullopt;
  return payload;
}

}  // namespace

std::size_t payload_header_size(const OutgoingMessage& message) {
  std::string header;
  append_content_header(header, message);
  return header.size();
}

void write_chat_frame(std::string& out, const OutgoingMessage& m) {
  out.clear();
  out += R"({"chat_message":{"id":")";
  out += m.tag;
  out += '-';
  append_number(out, m.client);
  out += '-';
  append_number(out, m.seq);
  out += R"(","room_id":")";
  out += m.room;
  out += R"(","sender_id":")";
  out += m.sender_prefix;
  append_number(out, m.client);
  out += R"(","content":")";
  const auto content_start = out.size();
  append_content_header(out, m);
  const auto written = out.size() - content_start;
  if (written < m.content_size) out.append(m.content_size - written, 'x');
  out += R"("}})";
}

ReceivedFrame read_chat_frame(std::string_view frame, std::string_view tag) {
  ReceivedFrame result;
  auto message = find_key(frame, R"("chat_message")", 0);
  if (message != std::string_view::npos && message < frame.size() && frame[message] == '{') {
    result.kind = FrameKind::ChatMessage;
    auto content = find_key(frame, R"("content")", message);
    if (content == std::string_view::npos || content >= frame.size() || frame[content] != '"') return result;
    auto text = frame.substr(content + 1);
    // Our content never holds a quote or a backslash, so the first quote ends it.
    auto end = text.find('"');
    if (end == std::string_view::npos) return result;
    result.payload = parse_content(text.substr(0, end), tag);
    return result;
  }
  auto first = skip_space(frame, 0);
  if (first < frame.size() && frame[first] == '{') {
    auto key = skip_space(frame, first + 1);
    if (frame.substr(key).starts_with(R"("error")")) result.kind = FrameKind::Error;
  }
  return result;
}

std::string make_run_tag() {
  std::random_device device;
  std::seed_seq seed{device(), static_cast<unsigned>(::getpid()),
                     static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count())};
  std::mt19937 engine(seed);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string tag(8, '0');
  for (auto& c : tag) c = kHex[engine() % 16];
  return tag;
}

}  // namespace chathost::bench
