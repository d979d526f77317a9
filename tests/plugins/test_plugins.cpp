// One plugin source, built several times with one TEST_PLUGIN_<behaviour>
// defined each time; every build fails (or behaves) in exactly one way.
#include <chathost/plugin.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace {

class TestPlugin final : public chathost::Plugin {
 public:
  std::string_view name() const override { return TEST_PLUGIN_NAME; }

  std::vector<chathost::ConfigKey> config_keys() const override {
    return {chathost::ConfigKey::string("mode", "normal", "how this test plugin behaves")};
  }

  void configure(chathost::PluginContext ctx) override {
    ctx_ = std::move(ctx);
#ifdef TEST_PLUGIN_throws_on_configure
    throw std::runtime_error("refusing to configure, as designed");
#endif
  }

  void start() override {
#ifdef TEST_PLUGIN_throws_on_start
    throw std::runtime_error("cannot bind 127.0.0.1:1: address already in use");
#endif
#ifdef TEST_PLUGIN_requests_shutdown
    worker_ = std::thread([this] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      ctx_.request_shutdown("lost its backing store");
    });
#endif
    ctx_.logger->info("started");
  }

  void stop() override {
    if (worker_.joinable()) worker_.join();
#ifdef TEST_PLUGIN_hangs_on_stop
    std::this_thread::sleep_for(std::chrono::hours(1));
#endif
    ctx_.logger->info("stopped");
  }

 private:
  chathost::PluginContext ctx_;
  std::thread worker_;
};

}  // namespace

#if defined(TEST_PLUGIN_wrong_api_version) || defined(TEST_PLUGIN_newer_minor_version)
// Exported by hand to claim an API this host does not provide.
namespace test_export {
#ifdef TEST_PLUGIN_wrong_api_version
const chathost::ApiVersion api_version{chathost::kApiVersion.major + 1, 0};
#else
const chathost::ApiVersion api_version{chathost::kApiVersion.major, chathost::kApiVersion.minor + 1};
#endif
std::unique_ptr<chathost::Plugin> create() { return std::make_unique<TestPlugin>(); }
}  // namespace test_export
BOOST_DLL_ALIAS(test_export::api_version, chathost_api_version)
BOOST_DLL_ALIAS(test_export::create, chathost_create_plugin)
#else
CHATHOST_PLUGIN(TestPlugin)
#endif
