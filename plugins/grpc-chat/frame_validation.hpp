// Checks of what a client sends, before anything is stored or delivered.
#pragma once

#include "chat_errors.hpp"
#include "chat_ids.hpp"
#include "chat_json.hpp"
#include "chat_text.hpp"

#include "chat.pb.h"
#include "service_limits.hpp"

#include <optional>
#include <string_view>

namespace chat::service {

using chat::json::payload_name;

using chat::text::is_valid_utf8;

// What a client sent, checked: the refusal (code, message and which frame)
// when it cannot be accepted, else nothing.
std::optional<Error> check_chat_message(const ChatMessage& message, const ServiceLimits& limits);
std::optional<Error> check_join(const Join& join);
std::optional<Error> check_leave(const Leave& leave);
std::optional<Error> check_typing(const Typing& typing);

}  // namespace chat::service
