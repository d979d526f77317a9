// Where a bridge finds the chat service: `chat_host` (GRPC_HOST) is one node
// or a comma-separated list of them, each host[:port], the port from
// `chat_port` (GRPC_PORT) when absent; IPv6 as [::1]:50051, or bare (::1)
// without a port. 0.0.0.0 and :: (what a chat node listens on) mean this
// machine.
#pragma once

#include "net/listen_address.hpp"

#include <chathost/plugin.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::net {

struct ChatNodes {
  std::vector<std::string> targets;  // "host:port" each, in the order given
  std::string error;                 // set (and no targets) when the list is malformed
};

inline ChatNodes parse_chat_nodes(std::string_view list, std::uint16_t default_port) {
  const auto fail = [](std::string why) { return ChatNodes{{}, std::move(why)}; };
  const auto trim = [](std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
  };
  ChatNodes nodes;
  for (std::size_t start = 0; start <= list.size();) {
    const auto comma = list.find(',', start);
    const std::string_view entry = trim(list.substr(start, comma == std::string_view::npos ? list.npos : comma - start));
    start = comma == std::string_view::npos ? list.size() + 1 : comma + 1;
    if (entry.empty()) return fail("an empty entry in \"" + std::string(list) + "\"");

    std::string_view host = entry;
    std::optional<std::string_view> port_text;
    if (entry.front() == '[') {  // [v6] or [v6]:port
      const auto close = entry.find(']');
      if (close == std::string_view::npos) return fail("\"" + std::string(entry) + "\" lacks its ]");
      host = entry.substr(1, close - 1);
      const auto rest = entry.substr(close + 1);
      if (!rest.empty()) {
        if (rest.front() != ':') return fail("\"" + std::string(entry) + "\": expected :port after ]");
        port_text = rest.substr(1);
      }
    } else if (const auto colon = entry.find(':'); colon != std::string_view::npos && entry.rfind(':') == colon) {
      host = entry.substr(0, colon);  // one colon: host:port (more: a bare IPv6 address)
      port_text = entry.substr(colon + 1);
    }
    if (host.empty() || host.find_first_of(" /\t") != std::string_view::npos) {
      return fail("\"" + std::string(entry) + "\" is not a host name or IP address");
    }
    std::uint16_t port = default_port;
    if (port_text) {
      unsigned value = 0;
      const auto [end, ec] = std::from_chars(port_text->data(), port_text->data() + port_text->size(), value);
      if (ec != std::errc() || end != port_text->data() + port_text->size() || value == 0 || value > 65535) {
        return fail("\"" + std::string(entry) + "\": the port must be 1 to 65535");
      }
      port = static_cast<std::uint16_t>(value);
    }
    std::string name(host);
    // A node listening on every address is reached on this machine.
    if (name == "0.0.0.0") name = "127.0.0.1";
    if (name == "::") name = "::1";
    nodes.targets.push_back(host_port(name, port));
  }
  return nodes;
}

// chat_host and chat_port, for a bridge's config_keys(); `failover` says
// what the bridge does when a node fails.
inline std::vector<chathost::ConfigKey> chat_node_config_keys(const std::string& failover) {
  return {
      chathost::ConfigKey::string("chat_host", "127.0.0.1",
                                  "address of the chat service (grpc-chat), or its nodes as a comma-separated list "
                                  "of host[:port] (" + failover + "); 0.0.0.0 or :: means this machine")
          .env("GRPC_HOST"),
      chathost::ConfigKey::integer("chat_port", 50051,
                                   "port of the chat service (grpc-chat) where chat_host names none")
          .range(1, 65535)
          .env("GRPC_PORT"),
  };
}

// "a:50051, b:50051", for the log.
inline std::string describe_chat_nodes(const std::vector<std::string>& targets) {
  std::string text;
  for (const auto& target : targets) text += (text.empty() ? "" : ", ") + target;
  return text;
}

}  // namespace chat::net
