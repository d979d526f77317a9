#include "api_responses.hpp"

#include "chat_json.hpp"

#include <boost/json.hpp>

namespace chat::history_http {
namespace {

// The chat service may come back soon: worth retrying.
bool is_transient(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::CANCELLED;
}

}  // namespace

std::string history_body(const std::string& room, const chat::GetChatHistoryResponse& page, bool forwards,
                         std::size_t max_bytes) {
  std::string body = R"({"room":)" + boost::json::serialize(boost::json::string(room)) + R"(,"messages":[)";
  std::size_t size = body.size() + 32;
  int first = 0;
  int end = page.messages_size();
  bool has_more = page.has_more();
  // Always one message, however long: a page must move the reader on.
  for (int kept = 0; kept < page.messages_size(); ++kept) {
    const int i = forwards ? kept : page.messages_size() - 1 - kept;
    const std::size_t more = chat::json::json_size_hint(page.messages(i)) + 1;
    if (kept > 0 && size + more > max_bytes) {
      has_more = true;
      if (forwards) {
        end = i;
      } else {
        first = i + 1;
      }
      break;
    }
    size += more;
  }
  body.reserve(size);
  for (int i = first; i < end; ++i) {
    if (i > first) body += ',';
    chat::json::append(page.messages(i), body);
  }
  body += R"(],"has_more":)";
  body += has_more ? "true}" : "false}";
  return body;
}

std::string json_error(std::string_view message, std::string_view parameter) {
  boost::json::object body;
  body["error"] = message;
  if (!parameter.empty()) body["parameter"] = parameter;
  return boost::json::serialize(body);
}

Response make_response(http::status status, std::string_view content_type, SharedText body) {
  Response response{status, 11};
  if (!content_type.empty()) response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  return response;
}

Response json_response(http::status status, SharedText body) {
  auto response = make_response(status, kJson, std::move(body));
  response.set(http::field::cache_control, "no-store");
  return response;
}

std::string_view code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

Response failed_call_response(const grpc::Status& status, std::chrono::seconds retry_after) {
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    return json_response(http::status::bad_request, json_error(status.error_message()));
  }
  const std::string code(code_name(status.error_code()));
  if (!is_transient(status.error_code())) {
    return json_response(http::status::bad_gateway, json_error("the chat service failed (" + code + ")"));
  }
  auto response =
      json_response(http::status::service_unavailable, json_error("the chat service is unavailable (" + code + ")"));
  response.set(http::field::retry_after, std::to_string(retry_after.count()));
  return response;
}

}  // namespace chat::history_http
