// What every worker thread of one chat-load run shares, read-only once the
// run starts: targets, rooms, the run tag, message size.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace chathost::bench {

// One ws:// URL, resolved once before the run.
struct Target {
  std::string url;
  std::string host_header;  // host:port, as the Host header of the handshake
  std::string path;         // the request target, "/" at least
  boost::asio::ip::tcp::endpoint endpoint;
};

// Parses ws://HOST[:PORT][/PATH] and resolves HOST; throws std::runtime_error.
Target resolve_target(const std::string& url);

struct RunPlan {
  std::string tag;  // see chat_frame.hpp
  std::vector<Target> targets;
  std::vector<boost::asio::ip::address> sources;
  std::vector<std::string> room_names;
  std::string sender_prefix;
  std::size_t content_size = 100;
};

inline std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace chathost::bench
