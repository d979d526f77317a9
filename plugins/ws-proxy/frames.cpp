#include "frames.hpp"

#include "chat_json.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace chat::proxy {

Frame make_frame(const ChatStream& event) { return std::make_shared<const std::string>(chat::json::encode(event)); }

Frame make_error_frame(const ErrorInfo& info) {
  ChatStream event;
  Error* error = event.mutable_error();
  error->set_code(info.code);
  error->set_message(info.message);
  error->set_frame(info.frame);
  error->set_id(info.id);
  error->set_room_id(info.room_id);
  error->set_user_id(info.user_id);
  return make_frame(event);
}

ErrorInfo refusal(Error::Code code, std::string message, std::string frame) {
  ErrorInfo info;
  info.code = code;
  info.message = std::move(message);
  info.frame = std::move(frame);
  return info;
}

ErrorInfo describe_bad_frame(std::string_view text, std::string_view parse_error) {
  // Only on the error path: parse again to say which kind of wrong it is.
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec) {
    return refusal(Error::INVALID_FRAME, "invalid JSON: " + ec.message());
  }
  if (!value.is_object()) {
    return refusal(Error::INVALID_FRAME, "a frame is a JSON object such as {\"chat_message\":{...}}");
  }
  const auto* descriptor = ChatStream::descriptor();
  for (const auto& member : value.as_object()) {
    const std::string key(member.key());
    if (descriptor->FindFieldByName(key) == nullptr && descriptor->FindFieldByLowercaseName(key) == nullptr &&
        descriptor->FindFieldByCamelcaseName(key) == nullptr) {
      return refusal(Error::UNKNOWN_PAYLOAD, "unknown payload '" + key + "'; clients send chat_message, join or leave",
                     key.size() <= kMaxIdBytes && is_valid_utf8(key) ? key : "");
    }
  }
  std::string frame;
  if (value.as_object().size() == 1) {
    const auto* field = descriptor->FindFieldByName(std::string(value.as_object().begin()->key()));
    if (field == nullptr) field = descriptor->FindFieldByCamelcaseName(std::string(value.as_object().begin()->key()));
    if (field != nullptr) frame = field->name();
  }
  return refusal(Error::INVALID_FRAME, "wrong shape: " + std::string(parse_error), frame);
}

std::optional<ErrorInfo> check_id(std::string_view value, std::string_view field, std::string_view frame,
                                  bool required) {
  if (value.empty()) {
    if (!required) return std::nullopt;
    return refusal(Error::MISSING_FIELD, std::string(field) + " is required", std::string(frame));
  }
  if (value.size() > kMaxIdBytes) {
    return refusal(Error::TOO_LARGE, std::string(field) + " is longer than " + std::to_string(kMaxIdBytes) + " bytes",
                   std::string(frame));
  }
  if (!is_valid_utf8(value)) {
    return refusal(Error::INVALID_UTF8, std::string(field) + " is not valid UTF-8", std::string(frame));
  }
  return std::nullopt;
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1FU;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0FU;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07U;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3FU);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace chat::proxy
