// What makes the host stop, and stop for sure: SIGINT and SIGTERM taken by
// one thread (SignalWatcher), and a bound on how long stopping may take
// (StopWatchdog).
#pragma once

#include "shutdown_latch.hpp"

#include <spdlog/logger.h>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace chathost {

// SIGINT and SIGTERM are blocked in every thread and taken by this one with
// sigwait, so no plugin thread is ever interrupted by them.
class SignalWatcher {
 public:
  explicit SignalWatcher(ShutdownLatch& latch, std::shared_ptr<spdlog::logger> log)
      : latch_(latch), log_(std::move(log)), thread_([this] { run(); }) {}
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;
  ~SignalWatcher() {
    done_ = true;
    ::pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }

  static void block_in_this_thread() {
    sigset_t set = signals();
    ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  }

 private:
  static sigset_t signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
  }

  void run() {
    sigset_t set = signals();
    bool stopping = false;
    for (;;) {
      int signal_number = 0;
      if (::sigwait(&set, &signal_number) != 0 || done_) return;
      const char* name = signal_number == SIGINT ? "SIGINT" : "SIGTERM";
      if (stopping) {
        log_->error("{} again while stopping; exiting now", name);
        log_->flush();
        std::_Exit(130);
      }
      stopping = true;
      latch_.request(name, false);
    }
  }

  ShutdownLatch& latch_;
  std::shared_ptr<spdlog::logger> log_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Ends the process if stopping takes longer than the configured bound: a
// plugin stuck in stop() must not keep the host alive forever.
class StopWatchdog {
 public:
  StopWatchdog(std::chrono::milliseconds limit, std::shared_ptr<spdlog::logger> log)
      : log_(std::move(log)), thread_([this, limit] { run(limit); }) {}
  StopWatchdog(const StopWatchdog&) = delete;
  StopWatchdog& operator=(const StopWatchdog&) = delete;
  ~StopWatchdog() {
    {
      std::lock_guard lock(mutex_);
      finished_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void stopping(const std::string& plugin) {
    std::lock_guard lock(mutex_);
    current_ = plugin;
  }

 private:
  void run(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, limit, [this] { return finished_; })) return;
    log_->error("plugin '{}' did not stop within {} ms (host.stop_timeout_ms); exiting", current_, limit.count());
    log_->flush();
    std::_Exit(1);
  }

  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
  std::string current_;
  std::thread thread_;
};

}  // namespace chathost
