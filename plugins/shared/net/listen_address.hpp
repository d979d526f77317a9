// Listen addresses as the config gives them: whether one keeps a port to
// this machine, and "host:port" with IPv6 in brackets. The same answer in
// every plugin, so the secure-default checks cannot disagree.
#pragma once

#include <chathost/plugin.hpp>

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace chat::net {

// 127.0.0.0/8, ::1 (also as ::ffff:127.x.x.x) and "localhost". Anything
// else, 0.0.0.0 and host names included, may be reached from the network.
inline bool is_loopback_host(std::string_view host) {
  if (host == "localhost") return true;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return false;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  return address.is_loopback();
}

// "host:port", "[::1]:port" for an IPv6 address.
inline std::string host_port(std::string_view host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string_view::npos && host.front() != '[';
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

// `host` and `port` of a plugin that listens: loopback unless told, any
// free port with 0, from <env_prefix>_HOST and <env_prefix>_PORT too.
// `host_help` says what the address is and what listening beyond loopback
// needs.
inline std::vector<chathost::ConfigKey> listen_config_keys(const std::string& env_prefix, std::int64_t default_port,
                                                           std::string host_help) {
  using chathost::ConfigKey;
  return {
      ConfigKey::string("host", "127.0.0.1", std::move(host_help)).env(env_prefix + "_HOST"),
      ConfigKey::integer("port", default_port, "port to listen on (0: any free port)")
          .range(0, 65535)
          .env(env_prefix + "_PORT"),
  };
}

}  // namespace chat::net
