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

PluginFolders::PluginFolders(std::vector<std::filesystem::path> folders) {
  // A folder named twice is searched once, where it first comes.
  for (auto& folder : folders) {
    if (folder.empty()) continue;
    folder = folder.lexically_normal();
    if (std::find(folders_.begin(), folders_.end(), folder) == folders_.end()) folders_.push_back(std::move(folder));
  }
}

std::string PluginFolders::describe() const {
  std::string out;
  for (const auto& folder : folders_) out += (out.empty() ? "" : ", ") + folder.string();
  return out.empty() ? "no folder" : out;
}

std::optional<PluginFolders::Found> PluginFolders::find(const std::string& name) const {
  std::optional<Found> found;
  for (const auto& folder : folders_) {
    const auto path = plugin_path(folder, name);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    if (found) {
      // The same file by another way (a symlink, a folder named twice) hides nothing.
      if (!std::filesystem::equivalent(found->path, path, ec)) found->hidden.push_back(path);
    } else {
      found = Found{path, {}};
    }
  }
  return found;
}

std::vector<std::string> PluginFolders::available() const {
  std::vector<std::string> names;
  for (const auto& folder : folders_) {
    for (auto& name : available_plugins(folder)) names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

LoadedPlugin load_plugin(const std::filesystem::path& dir, const std::string& name) {
  return load_plugin(PluginFolders({dir}), name);
}

LoadedPlugin load_plugin(const PluginFolders& folders, const std::string& name) {
  const std::string who = "plugin '" + name + "'";
  if (!valid_name(name)) {
    throw PluginLoadError("invalid plugin name '" + name + "': use lowercase letters, digits, '-' and '_'");
  }
  const auto found = folders.find(name);
  if (!found) {
    std::string available;
    for (const auto& n : folders.available()) available += (available.empty() ? "" : ", ") + n;
    throw PluginLoadError("unknown " + who + ": no " + name + ".so in " + folders.describe() +
                          " (available: " + (available.empty() ? "none" : available) + ")");
  }
  const auto& path = found->path;

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
  // The file name is how operators list, configure and find a plugin; a
  // plugin calling itself otherwise would log and be configured under
  // another name than the one they wrote.
  if (plugin->name() != name) {
    const std::string called(plugin->name());
    plugin.reset();
    throw PluginLoadError(who + ": " + path.string() + " calls itself '" + called +
                          "': a plugin's name() and its file name must be the same (rename the file to " +
                          called + ".so, or change name())");
  }
  return LoadedPlugin(name, path, std::move(library), std::move(plugin));
}

}  // namespace chathost
