// room-watch: a plugin that keeps an eye on one chat room. Every interval_ms
// it asks the chat service for the room's newest message (GetChatHistory,
// over gRPC) and publishes what it found as metrics:
//
//   room_watch_newest_sequence{room}     gauge, the newest message's sequence
//   room_watch_checks_total{outcome}     counter, "ok" or "failed"
//
// It shows the parts most plugins need: keys declared with defaults and
// ranges and bound to the fields they fill, checks in configure(), a timer on an Asio thread of
// the plugin's own, an asynchronous gRPC call with a deadline that stop()
// waits for, metrics, and a log that says what changed, not every tick.
#include <chathost/plugin.hpp>

#include "chat.grpc.pb.h"  // chathost::proto: the chat service's generated stub

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace {

namespace net = boost::asio;
using namespace std::chrono_literals;

// What the config table says; each key fills its field (ConfigKey::into),
// and its default is where the key is declared.
struct RoomWatchOptions {
  std::string chat_target;
  std::string room;
  std::chrono::milliseconds interval{};
  std::string service_token_file;
};

class RoomWatchPlugin final : public chathost::Plugin {
 public:
  std::string_view name() const override { return "room-watch"; }

  std::vector<chathost::ConfigKey> config_keys() const override {
    using chathost::ConfigKey;
    return {
        ConfigKey::string("chat_target", "127.0.0.1:50051", "host:port of the chat service (grpc-chat)")
            .into(&RoomWatchOptions::chat_target),
        ConfigKey::string("room", "lobby", "the room to watch").into(&RoomWatchOptions::room),
        ConfigKey::integer("interval_ms", 5000, "how often to look at the room")
            .range(100, 3600000)
            .into(&RoomWatchOptions::interval),
        ConfigKey::string("service_token_file", "",
                          "file holding the chat service's token; empty: the host's own secret, "
                          "enough for a grpc-chat in the same host")
            .env("CHAT_SERVICE_TOKEN_FILE")
            .into(&RoomWatchOptions::service_token_file),
    };
  }

  // Everything is read and checked here; nothing is opened yet.
  void configure(chathost::PluginContext ctx) override {
    log_ = ctx.logger;
    ctx.config.apply(config_keys(), options_);
    // What types and ranges cannot say.
    if (options_.chat_target.find(':') == std::string::npos) ctx.config.reject("chat_target", "expected host:port");
    if (options_.room.empty()) ctx.config.reject("room", "must not be empty");
    token_ = ctx.host_secret;
    if (const auto& file = options_.service_token_file; !file.empty()) {
      std::ifstream in(file);
      if (!in || !std::getline(in, token_) || token_.empty()) {
        ctx.config.reject("service_token_file", "cannot read a token from " + file);
      }
    }
    newest_ = &ctx.metrics->gauge("room_watch_newest_sequence", "Sequence of the newest message of the watched room",
                                  {{"room", options_.room}});
    checks_ok_ = &ctx.metrics->counter("room_watch_checks_total", "Looks at the room, by outcome", {{"outcome", "ok"}});
    checks_failed_ =
        &ctx.metrics->counter("room_watch_checks_total", "Looks at the room, by outcome", {{"outcome", "failed"}});
  }

  void start() override {
    // The channel connects lazily: the chat service may start after us.
    stub_ = chat::ChatService::NewStub(grpc::CreateChannel(options_.chat_target, grpc::InsecureChannelCredentials()));
    schedule(0ms);
    thread_ = std::thread([this] { io_.run(); });
    log_->info("watching room '{}' on {} every {} ms", options_.room, options_.chat_target, options_.interval.count());
  }

  // No timer fires and no call is under way once this returns.
  void stop() override {
    io_.stop();
    if (thread_.joinable()) thread_.join();
    std::unique_lock lock(mutex_);
    stopping_ = true;
    if (call_) call_->context.TryCancel();
    idle_.wait(lock, [this] { return call_ == nullptr; });
  }

 private:
  // One GetChatHistory call and what it needs until its callback has run.
  struct Call {
    grpc::ClientContext context;
    chat::GetChatHistoryRequest request;
    chat::GetChatHistoryResponse response;
  };

  void schedule(std::chrono::milliseconds delay) {
    timer_.expires_after(delay);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;  // cancelled: stopping
      look();
      schedule(options_.interval);
    });
  }

  void look() {
    std::lock_guard lock(mutex_);
    if (stopping_ || call_) return;  // the last look is still under way
    call_ = std::make_shared<Call>();
    call_->request.set_room_id(options_.room);
    call_->request.set_limit(1);
    call_->context.set_deadline(std::chrono::system_clock::now() + 2s);
    call_->context.AddMetadata("authorization", "Bearer " + token_);
    auto call = call_;
    stub_->async()->GetChatHistory(&call->context, &call->request, &call->response,
                                   [this, call](const grpc::Status& status) { looked(*call, status); });
  }

  // On a gRPC thread.
  void looked(const Call& call, const grpc::Status& status) {
    std::lock_guard lock(mutex_);
    if (!stopping_) report(call, status);  // a call cancelled by stop() is no news
    call_.reset();
    idle_.notify_all();
  }

  void report(const Call& call, const grpc::Status& status) {
    if (status.ok()) {
      const auto& messages = call.response.messages();
      const auto newest = messages.empty() ? 0 : messages.rbegin()->sequence();
      newest_->set(static_cast<double>(newest));
      checks_ok_->inc();
      log_->debug("room '{}': newest sequence {}", options_.room, newest);
    } else {
      checks_failed_->inc();
    }
    // Said once when it changes, not on every look.
    if (status.ok() != reachable_) {
      reachable_ = status.ok();
      if (reachable_) {
        log_->info("the chat service answers again");
      } else {
        log_->warn("cannot read room '{}': {}", options_.room, status.error_message());
      }
    }
  }

  std::shared_ptr<spdlog::logger> log_;
  RoomWatchOptions options_;
  std::string token_;
  chathost::Gauge* newest_ = nullptr;
  chathost::Counter* checks_ok_ = nullptr;
  chathost::Counter* checks_failed_ = nullptr;

  net::io_context io_;
  net::steady_timer timer_{io_};
  std::thread thread_;
  std::unique_ptr<chat::ChatService::Stub> stub_;

  std::mutex mutex_;
  std::condition_variable idle_;
  bool stopping_ = false;
  std::shared_ptr<Call> call_;  // the call under way, if any
  bool reachable_ = true;       // what the last look found
};

}  // namespace

CHATHOST_PLUGIN(RoomWatchPlugin)
