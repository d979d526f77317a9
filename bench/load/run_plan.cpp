#include "run_plan.hpp"

#include <boost/asio/io_context.hpp>

#include <stdexcept>

namespace chathost::bench {

Target resolve_target(const std::string& url) {
  constexpr std::string_view scheme = "ws://";
  if (!url.starts_with(scheme)) throw std::runtime_error("not a ws:// URL: " + url);
  std::string rest = url.substr(scheme.size());
  Target target;
  target.url = url;
  auto slash = rest.find('/');
  target.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  std::string host = authority;
  std::string port = "80";
  if (authority.starts_with('[')) {  // [IPv6]:port
    auto close = authority.find(']');
    if (close == std::string::npos) throw std::runtime_error("bad host in " + url);
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') port = authority.substr(close + 2);
  } else if (auto colon = authority.rfind(':'); colon != std::string::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty()) throw std::runtime_error("bad host or port in " + url);
  target.host_header = authority;

  boost::asio::io_context context;
  boost::asio::ip::tcp::resolver resolver(context);
  boost::system::error_code ec;
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) throw std::runtime_error("cannot resolve " + url + ": " + ec.message());
  target.endpoint = results.begin()->endpoint();
  return target;
}

}  // namespace chathost::bench
