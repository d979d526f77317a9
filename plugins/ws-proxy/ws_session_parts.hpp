// What the files of WsSession share and nothing else includes: the TLS
// layer's type, the sizes a session reads and writes with, and the read
// buffer every connection of an I/O thread shares. ws_session.cpp holds the
// upgrade and the timer, ws_session_reading.cpp the frames coming in,
// ws_session_writing.cpp the frames going out and the close.
#pragma once

#include "ws_session.hpp"

#include <boost/asio/ssl/stream.hpp>

#include <array>
#include <cstddef>

namespace chat::proxy {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using boost::system::error_code;

namespace session_parts {

constexpr std::size_t kHeaderLimit = 8 * 1024;
// Frames per socket write. Asio hands at most 64 buffers to one writev; two
// are kept for a pong in front and the close frame behind.
constexpr std::size_t kFramesPerWrite = 62;
// Queue slots a session keeps between bursts.
constexpr std::size_t kKeptSlots = 8;
// Reads per wake-up before letting other connections of the thread have a turn.
constexpr int kReadsPerTurn = 4;
// A TLS session's read buffer: one TLS record.
constexpr std::size_t kTlsReadBuffer = 16 * 1024;
// Reads of the upgrade request: at most this much at a time (http::async_read's figure).
constexpr std::size_t kRequestReadBytes = 65536;

// What every connection of an I/O thread reads into: an idle connection owns no buffer.
inline char* read_scratch(std::size_t& size) {
  thread_local std::array<char, 64 * 1024> scratch;
  size = scratch.size();
  return scratch.data();
}

}  // namespace session_parts

struct WsSession::Tls {
  Tls(net::ip::tcp::socket& socket, net::ssl::context& context) : stream(socket, context) {}
  net::ssl::stream<net::ip::tcp::socket&> stream;
};

}  // namespace chat::proxy
