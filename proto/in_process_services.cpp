#include "in_process_services.hpp"

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

}  // namespace

void publish(std::string listen_host, int port, ChannelMaker make) {
  std::lock_guard lock(registry_mutex());
  registry()[port] = Service{std::move(listen_host), std::move(make)};
}

void withdraw(int port) {
  std::lock_guard lock(registry_mutex());
  registry().erase(port);
}

std::shared_ptr<grpc::Channel> channel_to(int port, const std::function<bool(std::string_view)>& reaches,
                                          const grpc::ChannelArguments& args) {
  std::lock_guard lock(registry_mutex());
  const auto it = registry().find(port);
  if (it == registry().end() || !reaches(it->second.listen_host)) return nullptr;
  return it->second.make(args);
}

}  // namespace chat::in_process
