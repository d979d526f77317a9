// The Beast types every part of history-http speaks.
#pragma once

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <functional>

namespace chat::history_http {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Hands a finished response back to its connection. Called exactly once per
// request, from any thread (a gRPC callback, say); the connection moves it
// onto its own strand.
using Reply = std::function<void(Response)>;

}  // namespace chat::history_http
