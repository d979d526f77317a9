// The JSON answers of history-http's API, and what a client is told when a
// call to the chat service fails.
#pragma once

#include "http_types.hpp"

#include "chat.pb.h"

#include <grpcpp/support/status.h>

#include <chrono>
#include <string>
#include <string_view>

namespace chat::history_http {

inline constexpr std::string_view kJson = "application/json";

// {"room":R,"messages":[...],"has_more":b}; each message is the chat
// protocol's JSON mapping, exactly as in the WebSocket frames. At most about
// `max_bytes`: a page that would be longer keeps the messages nearest where
// reading started (the newest, reading backwards; the oldest, reading
// forwards with `after`) and says has_more, so the client pages on.
std::string history_body(const std::string& room, const chat::GetChatHistoryResponse& page, bool forwards,
                         std::size_t max_bytes);

// {"error": message[, "parameter": parameter]}
std::string json_error(std::string_view message, std::string_view parameter = {});

Response make_response(http::status status, std::string_view content_type, SharedText body);

// An answer about live data: JSON, never from a cache.
Response json_response(http::status status, SharedText body);

// "UNAVAILABLE", "INVALID_ARGUMENT", ...
std::string_view code_name(grpc::StatusCode code);

// A failed call's answer: 400 for a request the chat service found invalid,
// 503 with Retry-After when it may come back soon, 502 otherwise. The client
// learns the status code only: gRPC's message may name internal addresses
// or files.
Response failed_call_response(const grpc::Status& status, std::chrono::seconds retry_after);

}  // namespace chat::history_http
