// Decoding what clients put in a request target: percent-escapes and UTF-8,
// as every plugin decodes them (chat_proto's chat_text.hpp).
#pragma once

#include "chat_text.hpp"

namespace chat::history_http {

using chat::text::is_valid_utf8;
using chat::text::percent_decode;

}  // namespace chat::history_http
