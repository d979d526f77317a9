// One place where "time to stop" is decided: by a signal, or by a plugin that
// hit a fatal error. The first request wins; later ones are ignored.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>

namespace chathost {

struct ShutdownRequest {
  std::string reason;
  bool failure = false;  // the host exits non-zero
};

class ShutdownLatch {
 public:
  void request(std::string reason, bool failure) {
    {
      std::lock_guard lock(mutex_);
      if (request_) return;
      request_ = ShutdownRequest{std::move(reason), failure};
    }
    cv_.notify_all();
  }

  ShutdownRequest wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [this] { return request_.has_value(); });
    return *request_;
  }

  std::optional<ShutdownRequest> poll() {
    std::lock_guard lock(mutex_);
    return request_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::optional<ShutdownRequest> request_;
};

}  // namespace chathost
