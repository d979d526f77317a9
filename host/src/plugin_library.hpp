// Loading one plugin library with Boost.DLL: find it by name in the plugin
// folders, check its API version, then call its factory and check the name
// the plugin gives itself. The library outlives the plugin object.
#pragma once

#include "chathost/plugin.hpp"

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace chathost {

class PluginLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class LoadedPlugin {
 public:
  LoadedPlugin(std::string name, std::filesystem::path path, boost::dll::shared_library library,
               std::unique_ptr<Plugin> plugin)
      : name_(std::move(name)), path_(std::move(path)), library_(std::move(library)), plugin_(std::move(plugin)) {}
  LoadedPlugin(LoadedPlugin&&) noexcept = default;
  LoadedPlugin& operator=(LoadedPlugin&&) = delete;
  // The object's code lives in the library: destroy it first.
  ~LoadedPlugin() { plugin_.reset(); }

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }
  Plugin& plugin() const { return *plugin_; }

 private:
  std::string name_;
  std::filesystem::path path_;
  boost::dll::shared_library library_;
  std::unique_ptr<Plugin> plugin_;
};

// The file a plugin named `name` lives in.
std::filesystem::path plugin_path(const std::filesystem::path& dir, const std::string& name);

// Names of the plugins present in `dir`, sorted.
std::vector<std::string> available_plugins(const std::filesystem::path& dir);

// Where plugins are looked for, in order: the first folder that holds
// <name>.so provides plugin <name>, as PATH does for programs.
class PluginFolders {
 public:
  explicit PluginFolders(std::vector<std::filesystem::path> folders);

  const std::vector<std::filesystem::path>& folders() const { return folders_; }
  // "A, B, C": for messages.
  std::string describe() const;

  struct Found {
    std::filesystem::path path;                 // the one that is used
    std::vector<std::filesystem::path> hidden;  // the same name in later folders
  };
  std::optional<Found> find(const std::string& name) const;
  // Every plugin name in any folder, sorted, each once.
  std::vector<std::string> available() const;

 private:
  std::vector<std::filesystem::path> folders_;
};

// Throws PluginLoadError with one operator-ready sentence naming the plugin,
// the file and the reason: not found (saying where it looked), not a
// library, not a plugin, built for another API version, or calling itself
// by another name than its file's.
LoadedPlugin load_plugin(const PluginFolders& folders, const std::string& name);
LoadedPlugin load_plugin(const std::filesystem::path& dir, const std::string& name);

}  // namespace chathost
