// ws-proxy's I/O threads: one io_context per thread (a shard). Each
// connection lives on one shard from accept to close, shards dealt out in
// turn, so a connection's handlers always run on the same thread and the
// threads share no scheduler (no lock, no epoll set, no wake-ups between
// them). The proxy's own timers and links to the chat service run on
// shard 0.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace chat::proxy {

class IoShards {
 public:
  explicit IoShards(std::size_t count);
  ~IoShards();
  IoShards(const IoShards&) = delete;
  IoShards& operator=(const IoShards&) = delete;

  std::size_t size() const { return contexts_.size(); }
  boost::asio::io_context& at(std::size_t i) { return *contexts_[i]; }
  // The shard the next connection goes to, by index (any thread).
  std::size_t next();

  // Runs each shard on a thread of its own, named `thread_name` (for `top -H`).
  // `on_error`: an exception that escaped a handler; the thread runs on.
  void start(const char* thread_name, std::function<void(const std::exception&)> on_error);
  // Lets the shards run out of work, stops them and joins their threads.
  void stop();

 private:
  using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::optional<WorkGuard>> work_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace chat::proxy
