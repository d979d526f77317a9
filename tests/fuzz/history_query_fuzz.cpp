// The history query parser (GET /history?...): parse_history_query.
//
// Properties:
//  - a successful parse asks for a room of 1..128 bytes of well-formed UTF-8,
//    a sender that is empty or the same, a limit in 1..1000, before >= 1 when
//    set and greater than after when both are set;
//  - that request, written back as a query string, parses to the same request;
//  - a refusal names the parameter (one of the five, or an unknown name
//    echoed as printable ASCII of at most 64 bytes) and says what is wrong;
//  - is_valid_utf8 agrees with the reference validator.
#include "fuzz_check.hpp"

#include "history_query.hpp"
#include "text_decoding.hpp"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

using chat::GetChatHistoryRequest;
using chat::fuzz::is_well_formed_utf8;
using chat::history_http::kMaxHistoryLimit;
using chat::history_http::kMaxIdBytes;
using chat::history_http::QueryError;

constexpr std::array<std::string_view, 5> kParameters{"room", "user", "limit", "before", "after"};

bool is_id(const std::string& value) {
  return !value.empty() && value.size() <= kMaxIdBytes && is_well_formed_utf8(value);
}

// Every byte but unreserved ones escaped, so the query splits as written.
std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4U];
      out += kHex[byte & 0x0FU];
    }
  }
  return out;
}

std::string as_query(const GetChatHistoryRequest& request) {
  std::string query = "limit=" + std::to_string(request.limit()) + "&room=" + percent_encode(request.room_id());
  if (!request.sender_id().empty()) query += "&user=" + percent_encode(request.sender_id());
  if (request.before() != 0) query += "&before=" + std::to_string(request.before());
  if (request.has_after()) query += "&after=" + std::to_string(request.after());
  return query;
}

void check_request(const GetChatHistoryRequest& request) {
  FUZZ_CHECK(is_id(request.room_id()));
  FUZZ_CHECK(request.sender_id().empty() || is_id(request.sender_id()));
  FUZZ_CHECK(request.limit() >= 1 && request.limit() <= kMaxHistoryLimit);
  if (request.before() != 0 && request.has_after()) FUZZ_CHECK(request.before() > request.after());

  const auto again = chat::history_http::parse_history_query(as_query(request));
  const auto* same = std::get_if<GetChatHistoryRequest>(&again);
  FUZZ_CHECK(same != nullptr);
  FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(request, *same));
}

void check_error(const QueryError& error) {
  FUZZ_CHECK(!error.message.empty());
  FUZZ_CHECK(error.parameter.size() <= 64);
  FUZZ_CHECK(std::all_of(error.parameter.begin(), error.parameter.end(), [](char c) { return c >= 0x20 && c < 0x7F; }));
  const bool known = std::find(kParameters.begin(), kParameters.end(), error.parameter) != kParameters.end();
  if (known) {
    FUZZ_CHECK(error.message.starts_with(error.parameter));
  } else {
    FUZZ_CHECK(error.message.find("parameter") != std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  FUZZ_CHECK(chat::history_http::is_valid_utf8(query) == is_well_formed_utf8(query));

  const auto parsed = chat::history_http::parse_history_query(query);
  if (const auto* request = std::get_if<GetChatHistoryRequest>(&parsed)) {
    check_request(*request);
  } else {
    check_error(std::get<QueryError>(parsed));
  }
  return 0;
}
