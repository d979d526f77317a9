// Listen addresses as the config gives them: whether one keeps a port to
// this machine, and "host:port" with IPv6 in brackets. The same answer in
// every plugin, so the secure-default checks cannot disagree.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace chat::net
