#include "chat_json.hpp"

#include "chat_json_direct.hpp"
#include "chat_text.hpp"

#include <boost/json.hpp>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>
#include <limits>
#include <unordered_set>

// Two ways through the same mapping. protobuf's own JSON printer and parser
// are the reference, but they convert through a type resolver and take tens
// of microseconds a frame, on the path of every message. The direct way
// walks the message with reflection and Boost.JSON, for the shapes this
// protocol uses (strings, integers, booleans, enums, nested messages,
// Timestamps, repeated fields); it gives up on anything else, and on any
// input it does not accept, and protobuf's way then decides, so results and
// error messages stay protobuf's.

namespace chat::json {
namespace {

namespace pb = google::protobuf;
using pb::FieldDescriptor;
using direct::append_chat_message;
using direct::timestamp_text;

constexpr std::size_t kStackBytes = 4096;

bool is_timestamp(const pb::Descriptor* type) { return type->full_name() == "google.protobuf.Timestamp"; }

void resolve_field_types(const pb::Descriptor* type, std::unordered_set<const pb::Descriptor*>& seen) {
  if (!seen.insert(type).second) return;
  for (int i = 0; i < type->field_count(); ++i) {
    const FieldDescriptor* field = type->field(i);
    if (field->type() == FieldDescriptor::TYPE_MESSAGE) resolve_field_types(field->message_type(), seen);
    if (field->type() == FieldDescriptor::TYPE_ENUM) field->enum_type();
  }
}

// protobuf resolves a field's type lazily, building what it needs on
// whichever thread asks first, and publishes it in a way ThreadSanitizer
// cannot always follow to a reader on another thread. Resolving every type
// chat.proto reaches, once, inside a function-local static, does that work
// on one thread before any descriptor is walked here, and orders every later
// walk after it (it also takes the lazy work off the first frame).
void resolve_chat_types() {
  static const bool resolved = [] {
    std::unordered_set<const pb::Descriptor*> seen;
    const pb::FileDescriptor* file = ChatStream::descriptor()->file();
    for (int i = 0; i < file->message_type_count(); ++i) resolve_field_types(file->message_type(i), seen);
    return true;
  }();
  (void)resolved;
}

// ---- encode ----------------------------------------------------------------

bool put_message(const pb::Message& message, boost::json::object& out);

bool put_timestamp(const pb::Message& message, boost::json::value& out) {
  std::string text;
  if (!timestamp_text(message, text)) return false;
  out = text;
  return true;
}

// One value of `field` (element `index` when repeated) into `out`.
bool put_value(const pb::Message& message, const FieldDescriptor* field, int index, boost::json::value& out) {
  const pb::Reflection* r = message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field->type() == FieldDescriptor::TYPE_BYTES) return false;
      std::string scratch;
      const std::string& s =
          repeated ? r->GetRepeatedStringReference(message, field, index, &scratch) : r->GetStringReference(message, field, &scratch);
      if (!chat::text::is_valid_utf8(s)) return false;
      out = boost::json::string_view(s);
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      out = repeated ? r->GetRepeatedBool(message, field, index) : r->GetBool(message, field);
      return true;
    case FieldDescriptor::CPPTYPE_INT32:
      out = repeated ? r->GetRepeatedInt32(message, field, index) : r->GetInt32(message, field);
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      out = repeated ? r->GetRepeatedUInt32(message, field, index) : r->GetUInt32(message, field);
      return true;
    // 64-bit integers are strings in proto3 JSON: JavaScript numbers cannot hold them.
    case FieldDescriptor::CPPTYPE_INT64:
      out = std::to_string(repeated ? r->GetRepeatedInt64(message, field, index) : r->GetInt64(message, field));
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      out = std::to_string(repeated ? r->GetRepeatedUInt64(message, field, index) : r->GetUInt64(message, field));
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = repeated ? r->GetRepeatedEnumValue(message, field, index) : r->GetEnumValue(message, field);
      const auto* value = field->enum_type()->FindValueByNumber(number);
      if (value == nullptr) return false;
      out = boost::json::string_view(value->name());
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const pb::Message& sub = repeated ? r->GetRepeatedMessage(message, field, index) : r->GetMessage(message, field);
      if (is_timestamp(field->message_type())) return put_timestamp(sub, out);
      if (field->message_type()->well_known_type() != pb::Descriptor::WELLKNOWNTYPE_UNSPECIFIED) return false;
      return put_message(sub, out.emplace_object());
    }
    default:
      return false;  // floating point: protobuf's way
  }
}

bool put_message(const pb::Message& message, boost::json::object& out) {
  std::vector<const FieldDescriptor*> fields;
  message.GetReflection()->ListFields(message, &fields);  // set fields only, by number
  for (const FieldDescriptor* field : fields) {
    if (field->is_map()) return false;
    boost::json::value& slot = out[field->name()];
    if (field->is_repeated()) {
      auto& array = slot.emplace_array();
      const int size = message.GetReflection()->FieldSize(message, field);
      array.resize(static_cast<std::size_t>(size));
      for (int i = 0; i < size; ++i) {
        if (!put_value(message, field, i, array[static_cast<std::size_t>(i)])) return false;
      }
    } else if (!put_value(message, field, -1, slot)) {
      return false;
    }
  }
  return true;
}

// ---- decode ----------------------------------------------------------------

bool set_message(const boost::json::object& object, pb::Message& message);

template <typename Int>
bool integer(const boost::json::value& value, Int& out) {
  if (value.is_int64()) {
    const std::int64_t v = value.get_int64();
    if constexpr (std::is_signed_v<Int>) {
      if (v < std::numeric_limits<Int>::min() || v > std::numeric_limits<Int>::max()) return false;
    } else {
      if (v < 0 || static_cast<std::uint64_t>(v) > std::numeric_limits<Int>::max()) return false;
    }
    out = static_cast<Int>(v);
    return true;
  }
  if (value.is_uint64()) {
    const std::uint64_t v = value.get_uint64();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<Int>::max())) return false;
    out = static_cast<Int>(v);
    return true;
  }
  if (value.is_string()) {  // "123": how proto3 JSON writes 64-bit integers
    const auto& s = value.get_string();
    const char* end = s.data() + s.size();
    if (s.empty() || (s[0] != '-' && (s[0] < '0' || s[0] > '9'))) return false;
    auto [ptr, ec] = std::from_chars(s.data(), end, out);
    return ec == std::errc() && ptr == end;
  }
  return false;  // 1.0, 1e3, true, null...: protobuf's way decides
}

bool set_value(const boost::json::value& value, const FieldDescriptor* field, pb::Message& message) {
  const pb::Reflection* r = message.GetReflection();
  const bool repeated = field->is_repeated();
  switch (field->cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING: {
      if (field->type() == FieldDescriptor::TYPE_BYTES || !value.is_string()) return false;
      std::string s(value.get_string());
      repeated ? r->AddString(&message, field, std::move(s)) : r->SetString(&message, field, std::move(s));
      return true;
    }
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!value.is_bool()) return false;
      repeated ? r->AddBool(&message, field, value.get_bool()) : r->SetBool(&message, field, value.get_bool());
      return true;
    case FieldDescriptor::CPPTYPE_INT32: {
      std::int32_t v = 0;
      if (!integer(value, v)) return false;
      repeated ? r->AddInt32(&message, field, v) : r->SetInt32(&message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT32: {
      std::uint32_t v = 0;
      if (!integer(value, v)) return false;
      repeated ? r->AddUInt32(&message, field, v) : r->SetUInt32(&message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_INT64: {
      std::int64_t v = 0;
      if (!integer(value, v)) return false;
      repeated ? r->AddInt64(&message, field, v) : r->SetInt64(&message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_UINT64: {
      std::uint64_t v = 0;
      if (!integer(value, v)) return false;
      repeated ? r->AddUInt64(&message, field, v) : r->SetUInt64(&message, field, v);
      return true;
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      if (!value.is_string()) return false;
      const auto* e = field->enum_type()->FindValueByName(std::string(value.get_string()));
      if (e == nullptr) return false;
      repeated ? r->AddEnumValue(&message, field, e->number()) : r->SetEnumValue(&message, field, e->number());
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      pb::Message* sub = repeated ? r->AddMessage(&message, field) : r->MutableMessage(&message, field);
      if (is_timestamp(field->message_type())) {
        auto* ts = dynamic_cast<pb::Timestamp*>(sub);
        return ts != nullptr && value.is_string() &&
               pb::util::TimeUtil::FromString(std::string(value.get_string()), ts);
      }
      if (field->message_type()->well_known_type() != pb::Descriptor::WELLKNOWNTYPE_UNSPECIFIED || !value.is_object()) {
        return false;
      }
      return set_message(value.get_object(), *sub);
    }
    default:
      return false;
  }
}

bool set_message(const boost::json::object& object, pb::Message& message) {
  const pb::Descriptor* type = message.GetDescriptor();
  const pb::Reflection* r = message.GetReflection();
  for (const auto& [key, value] : object) {
    const std::string name(key);
    const FieldDescriptor* field = type->FindFieldByName(name);
    if (field == nullptr) field = type->FindFieldByCamelcaseName(name);
    if (field == nullptr || field->is_map() || value.is_null()) return false;
    // A second member of a oneof, or a field given twice (as room_id and roomId).
    if (const auto* oneof = field->containing_oneof(); oneof != nullptr && r->HasOneof(message, oneof)) return false;
    if (!field->is_repeated() && r->HasField(message, field)) return false;
    if (field->is_repeated()) {
      if (!value.is_array() || r->FieldSize(message, field) > 0) return false;
      for (const auto& element : value.get_array()) {
        if (element.is_null() || !set_value(element, field, message)) return false;
      }
    } else if (!set_value(value, field, message)) {
      return false;
    }
  }
  return true;
}

// Members in all objects of `value`.
std::size_t members(const boost::json::value& value) {
  std::size_t n = 0;
  if (value.is_object()) {
    n += value.get_object().size();
    for (const auto& member : value.get_object()) n += members(member.value());
  } else if (value.is_array()) {
    for (const auto& element : value.get_array()) n += members(element);
  }
  return n;
}

// Members written in `text`, valid JSON: the colons outside strings.
// Boost.JSON keeps only the last of a repeated key, where protobuf may
// refuse the frame; a text with more members than its value holds is left
// to protobuf.
std::size_t members_written(std::string_view text) {
  std::size_t n = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == ':') {
      ++n;
    }
  }
  return n;
}

std::string encode_by_protobuf(const pb::Message& message) {
  pb::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = pb::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";  // only for messages with invalid UTF-8, which never get this far
  return out;
}

std::string decode_by_protobuf(std::string_view text, pb::Message& message) {
  pb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = pb::util::JsonStringToMessage(pb::StringPiece(text.data(), text.size()), &message, options);
  if (status.ok()) return {};
  return std::string(status.message());
}

}  // namespace

std::size_t json_size_hint(const ChatMessage& message) { return message.content().size() + 256; }

std::string encode(const google::protobuf::Message& message) {
  const pb::Descriptor* type = message.GetDescriptor();
  if (type == ChatStream::descriptor()) {
    const auto& frame = static_cast<const ChatStream&>(message);
    if (frame.has_chat_message()) {
      std::string out = R"({"chat_message":)";
      out.reserve(out.size() + json_size_hint(frame.chat_message()) + 1);
      if (append_chat_message(frame.chat_message(), out)) return out += '}';
    }
  } else if (type == ChatMessage::descriptor()) {
    const auto& chat_message = static_cast<const ChatMessage&>(message);
    std::string out;
    out.reserve(json_size_hint(chat_message));
    if (append_chat_message(chat_message, out)) return out;
  }
  // The general way walks the descriptors; a chat message above needs none.
  resolve_chat_types();
  unsigned char stack[kStackBytes];
  boost::json::monotonic_resource memory(stack, sizeof stack);
  boost::json::object object(&memory);
  if (put_message(message, object)) return boost::json::serialize(object);
  return encode_by_protobuf(message);
}

void append(const ChatMessage& message, std::string& out) {
  const std::size_t before = out.size();
  if (append_chat_message(message, out)) return;
  out.resize(before);  // something unusual: the general way
  out += encode(message);
}

std::string decode(std::string_view text, google::protobuf::Message& message) {
  resolve_chat_types();
  unsigned char stack[kStackBytes];
  boost::json::monotonic_resource memory(stack, sizeof stack);
  boost::json::error_code ec;
  auto value = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, &memory);
  if (!ec && value.is_object() && members(value) == members_written(text)) {
    message.Clear();
    if (set_message(value.get_object(), message)) return {};
  }
  message.Clear();
  return decode_by_protobuf(text, message);
}

std::string_view payload_name(const ChatStream& frame) {
  switch (frame.payload_case()) {
    case ChatStream::kChatMessage: return "chat_message";
    case ChatStream::kJoin: return "join";
    case ChatStream::kLeave: return "leave";
    case ChatStream::kJoined: return "joined";
    case ChatStream::kPresence: return "presence";
    case ChatStream::kAck: return "ack";
    case ChatStream::kError: return "error";
    case ChatStream::kServiceStatus: return "service_status";
    case ChatStream::kTyping: return "typing";
    case ChatStream::kBatch: return "batch";
    case ChatStream::kWatch: return "watch";
    case ChatStream::kWatching: return "watching";
    case ChatStream::kUnwatch: return "unwatch";
    case ChatStream::PAYLOAD_NOT_SET: return "";
  }
  return "";
}

namespace reference {
std::string encode(const google::protobuf::Message& message) { return encode_by_protobuf(message); }
std::string decode(std::string_view text, google::protobuf::Message& message) {
  message.Clear();
  return decode_by_protobuf(text, message);
}
}  // namespace reference

}  // namespace chat::json
