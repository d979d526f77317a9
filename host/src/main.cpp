// chat-host: the command line in front of run_host().
#include "host.hpp"
#include "logging.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <iostream>

namespace po = boost::program_options;

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) items.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

}  // namespace

int main(int argc, char** argv) {
  po::options_description options("Usage: chat-host [options]\n\nOptions");
  // clang-format off
  options.add_options()
    ("config,c", po::value<std::string>()->value_name("FILE"),
     "configuration file (default: ./config/chat.toml, else the installed one)")
    ("env-file", po::value<std::string>()->value_name("FILE"),
     "variables file applied over the configuration (default: ./.env when present)")
    ("plugins,p", po::value<std::string>()->value_name("A,B"),
     "plugins to run, overriding [host].plugins (e.g. grpc-chat or ws-proxy,history-http)")
    ("plugin-dir", po::value<std::vector<std::string>>()->value_name("DIR")->composing(),
     "a folder of plugin libraries, searched before CHATHOST_PLUGIN_PATH, [host] plugin_dirs and the host's own "
     "(may be given more than once)")
    ("log-level", po::value<std::string>()->value_name("LEVEL"),
     "trace, debug, info, warn, error, critical or off")
    ("insecure", "allow open listeners beyond loopback: any origin, no tokens (as [host] insecure = true; "
     "never in production)")
    ("check", "validate configuration and plugins, open no port, exit 0 (valid) or 1")
    ("help-config", "list every configuration key of the host and of each plugin")
    ("version", "print the version and exit")
    ("help,h", "print this help and exit");
  // clang-format on

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "chat-host: " << e.what() << "\nTry 'chat-host --help'.\n";
    return 2;
  }

  if (vm.count("help")) {
    std::cout << options << "\nEnvironment variables and the .env file override the configuration file;\n"
              << "see .env.example and `chat-host --help-config`.\n";
    return 0;
  }
  if (vm.count("version")) {
    std::cout << "chat-host " << chathost::host_version() << " (plugin API " << chathost::kApiVersion.major << "."
              << chathost::kApiVersion.minor << ")\n";
    return 0;
  }

  chathost::HostOptions host;
  host.config_path = vm.count("config") ? std::filesystem::path(vm["config"].as<std::string>())
                                        : chathost::default_config_path();
  if (vm.count("env-file")) host.env_file = vm["env-file"].as<std::string>();
  if (vm.count("plugins")) host.plugins = split_list(vm["plugins"].as<std::string>());
  if (vm.count("plugin-dir")) {
    for (const auto& dir : vm["plugin-dir"].as<std::vector<std::string>>()) host.plugin_dirs.emplace_back(dir);
  }
  if (vm.count("log-level")) {
    const auto& level = vm["log-level"].as<std::string>();
    const auto& levels = chathost::kLogLevels;
    if (std::find(levels.begin(), levels.end(), level) == levels.end()) {
      std::cerr << fmt::format("chat-host: --log-level: expected one of {}; got '{}'\n", fmt::join(levels, ", "), level);
      return 2;
    }
    host.log_level = level;
  }
  host.insecure = vm.count("insecure") > 0;
  host.check_only = vm.count("check") > 0;

  if (vm.count("help-config")) return chathost::print_config_help(host);
  return chathost::run_host(host);
}
