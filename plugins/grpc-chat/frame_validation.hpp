// Checks of what a client sends, before anything is stored or delivered.
#pragma once

#include "chat_json.hpp"
#include "chat_text.hpp"

#include "chat.pb.h"
#include "service_limits.hpp"

#include <optional>
#include <string_view>

namespace chat::service {

using chat::json::payload_name;

using chat::text::is_valid_utf8;

// Fills `error` (code, message and which frame) and returns false when the
// message cannot be accepted.
std::optional<Error> check_chat_message(const ChatMessage& message, const ServiceLimits& limits);
std::optional<Error> check_join(const Join& join, const ServiceLimits& limits);
std::optional<Error> check_leave(const Leave& leave, const ServiceLimits& limits);
std::optional<Error> check_typing(const Typing& typing, const ServiceLimits& limits);


Error make_error(Error::Code code, std::string message, std::string_view frame);

}  // namespace chat::service
