#include "in_process_services.hpp"

#include <charconv>
#include <map>
#include <mutex>

namespace chat::in_process {
namespace {

struct Service {
  std::string listen_host;
  ChannelMaker make;
};

// Under one lock, making channels included: withdraw() returns only once no
// channel is being made to the server it withdraws.
std::mutex& registry_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<int, Service>& registry() {
  static std::map<int, Service> services;  // by port
  return services;
}

std::string_view unbracketed(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

bool is_loopback(std::string_view host) {
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

bool is_wildcard(std::string_view host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

bool reaches(std::string_view listen_host, std::string_view target_host) {
  if (listen_host == target_host) return true;
  return is_loopback(target_host) && (is_loopback(listen_host) || is_wildcard(listen_host));
}

}  // namespace

void publish(std::string listen_host, int port, ChannelMaker make) {
  std::lock_guard lock(registry_mutex());
  registry()[port] = Service{std::string(unbracketed(listen_host)), std::move(make)};
}

void withdraw(int port) {
  std::lock_guard lock(registry_mutex());
  registry().erase(port);
}

std::shared_ptr<grpc::Channel> channel_to(std::string_view target, const grpc::ChannelArguments& args) {
  const auto colon = target.rfind(':');
  if (colon == std::string_view::npos) return nullptr;
  const std::string_view port_text = target.substr(colon + 1);
  int port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size()) return nullptr;
  const std::string_view host = unbracketed(target.substr(0, colon));

  std::lock_guard lock(registry_mutex());
  const auto it = registry().find(port);
  if (it == registry().end() || !reaches(it->second.listen_host, host)) return nullptr;
  return it->second.make(args);
}

}  // namespace chat::in_process
