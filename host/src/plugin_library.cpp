#include "plugin_library.hpp"

#include <dlfcn.h>

#include <algorithm>

namespace chathost {
namespace {

constexpr const char* kVersionSymbol = "chathost_api_version";
constexpr const char* kFactorySymbol = "chathost_create_plugin";

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::string version_text(const ApiVersion& v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// Boost.DLL clears dlerror(); ask the loader again for the real reason.
std::string dlopen_reason(const std::filesystem::path& path) {
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle != nullptr) {
    ::dlclose(handle);
    return "unknown loader error";
  }
  const char* reason = ::dlerror();
  return reason != nullptr ? reason : "unknown loader error";
}

}  // namespace

std::filesystem::path plugin_path(const std::filesystem::path& dir, const std::string& name) {
  return dir / (name + ".so");
}

std::vector<std::string> available_plugins(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

LoadedPlugin load_plugin(const std::filesystem::path& dir, const std::string& name) {
  const std::string who = "plugin '" + name + "'";
  if (!valid_name(name)) {
    throw PluginLoadError("invalid plugin name '" + name + "': use lowercase letters, digits, '-' and '_'");
  }
  const auto path = plugin_path(dir, name);
  std::error_code exists_ec;
  if (!std::filesystem::exists(path, exists_ec)) {
    std::string available;
    for (const auto& n : available_plugins(dir)) available += (available.empty() ? "" : ", ") + n;
    throw PluginLoadError("unknown " + who + ": no " + path.filename().string() + " in " + dir.string() +
                          " (available: " + (available.empty() ? "none" : available) + ")");
  }

  // RTLD_NODELETE: a library holding protobuf or gRPC state must never be
  // unmapped while the process lives, even after its plugin object is gone.
  const auto mode = static_cast<boost::dll::load_mode::type>(boost::dll::load_mode::rtld_now | RTLD_NODELETE);
  boost::dll::fs::error_code ec;
  boost::dll::shared_library library(path, mode, ec);
  if (ec) {
    throw PluginLoadError(who + ": cannot load " + path.string() + ": " + dlopen_reason(path));
  }
  if (!library.has(kVersionSymbol) || !library.has(kFactorySymbol)) {
    throw PluginLoadError(who + ": " + path.string() + " is not a chat-host plugin (symbol " +
                          (library.has(kVersionSymbol) ? kFactorySymbol : kVersionSymbol) +
                          " missing; export the plugin with CHATHOST_PLUGIN)");
  }

  const ApiVersion theirs = library.get_alias<const ApiVersion>(kVersionSymbol);
  if (theirs.major != kApiVersion.major || theirs.minor > kApiVersion.minor) {
    throw PluginLoadError(who + ": " + path.string() + " was built for host API " + version_text(theirs) +
                          ", this host provides " + version_text(kApiVersion) + "; rebuild the plugin");
  }

  std::unique_ptr<Plugin> plugin;
  try {
    plugin = library.get_alias<PluginFactory>(kFactorySymbol)();
  } catch (const std::exception& e) {
    throw PluginLoadError(who + ": factory failed: " + e.what());
  }
  if (!plugin) throw PluginLoadError(who + ": factory returned no object");
  return LoadedPlugin(name, path, std::move(library), std::move(plugin));
}

}  // namespace chathost
