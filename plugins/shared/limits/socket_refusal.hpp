// What becomes of a socket its listener's ConnectionGate did not admit, the
// same on every listener: over a cap, it is answered without its request
// being read (503 over max_connections, 429 over the per-address one): the
// answer written at once, the send side shut, and whatever the client sent
// drained for a second at most (so that the close does not reset the answer
// away before the client reads it); then it closes and its ticket gives the
// slot back. On a TLS port (where plain text is noise to the client), or
// with too many refusals under way, it is closed unanswered; nearly out of
// file descriptors too, and `backoff` says so in the log once a second.
#pragma once

#include "limits/accept_backoff.hpp"
#include "limits/connection_gate.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <spdlog/logger.h>

namespace chat::limits {

// `answer`: whether the port may be answered in plain HTTP (not TLS).
void turn_away(boost::asio::ip::tcp::socket socket, ConnectionGate::Admission admission, bool answer,
               AcceptBackoff& backoff, spdlog::logger& log);

}  // namespace chat::limits
