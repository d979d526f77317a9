#include "frames.hpp"

#include "chat_json.hpp"
#include "ws_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace chat::proxy {

Frame Frame::text(std::string_view json) {
  std::string bytes(ws::kMaxHeaderBytes, '\0');
  const std::size_t header = ws::write_header(bytes.data(), ws::Opcode::text, json.size());
  bytes.resize(header);
  bytes.append(json);
  Frame frame;
  frame.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  frame.header_bytes_ = header;
  return frame;
}

Frame make_frame(const ChatStream& event) { return Frame::text(chat::json::encode(event)); }

Frame make_error_frame(const Error& error) { return make_frame(error_event(error)); }

void name_refused(Error& error, const std::string& id, const std::string& room, const std::string& user) {
  const auto usable = [](const std::string& value) { return check_id(value, "", "").has_value() ? "" : value; };
  error.set_id(usable(id));
  error.set_room_id(usable(room));
  error.set_user_id(usable(user));
}

Error describe_bad_frame(std::string_view text, std::string_view parse_error) {
  // Only on the error path: parse again to say which kind of wrong it is.
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec);
  if (ec) {
    return make_error(Error::INVALID_FRAME, "invalid JSON: " + ec.message());
  }
  if (!value.is_object()) {
    return make_error(Error::INVALID_FRAME, "a frame is a JSON object such as {\"chat_message\":{...}}");
  }
  const auto* descriptor = ChatStream::descriptor();
  for (const auto& member : value.as_object()) {
    const std::string key(member.key());
    if (descriptor->FindFieldByName(key) == nullptr && descriptor->FindFieldByLowercaseName(key) == nullptr &&
        descriptor->FindFieldByCamelcaseName(key) == nullptr) {
      return make_error(Error::UNKNOWN_PAYLOAD, "unknown payload '" + key + "'; clients send chat_message, join or leave",
                     key.size() <= kMaxIdBytes && is_valid_utf8(key) ? key : "");
    }
  }
  std::string frame;
  if (value.as_object().size() == 1) {
    const auto* field = descriptor->FindFieldByName(std::string(value.as_object().begin()->key()));
    if (field == nullptr) field = descriptor->FindFieldByCamelcaseName(std::string(value.as_object().begin()->key()));
    if (field != nullptr) frame = field->name();
  }
  return make_error(Error::INVALID_FRAME, "wrong shape: " + std::string(parse_error), frame);
}

}  // namespace chat::proxy
