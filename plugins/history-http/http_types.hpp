// The Beast types every part of history-http speaks: messages only. Reading
// and writing them on a connection is http_session.cpp's business alone, so
// no other file compiles Beast's parser, serializer or stream operations.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <memory>

namespace chat::history_http {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Hands a finished response back to its connection. Called exactly once per
// request, from any thread (a gRPC callback, say); the connection moves it
// onto its own strand. `hold`: kept by the connection until the response is
// written (a history answer's share of the HistoryBudget), or null.
using Reply = std::function<void(Response, std::shared_ptr<const void> hold)>;

}  // namespace chat::history_http
