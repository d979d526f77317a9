// Answering a socket refused at accept (connection_gate.hpp), without
// reading its request: a canned HTTP response is written at once, the send
// side shut, and whatever the client sent drained for a second at most (so
// that the close does not reset the answer away before the client reads
// it); then the socket closes and the ticket gives its slot back.
#pragma once

#include "limits/connection_gate.hpp"

#include <boost/asio/ip/tcp.hpp>

#include <string>

namespace chat::limits {

// "HTTP/1.1 <status>" with a JSON error body, Connection: close and Retry-After.
std::string refusal_response(unsigned status, const std::string& reason, const std::string& error);

void refuse_socket(boost::asio::ip::tcp::socket socket, const std::string& response, ConnectionGate::Ticket ticket);

}  // namespace chat::limits
