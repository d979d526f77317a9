#include "io_shards.hpp"

#include <pthread.h>

namespace chat::proxy {

IoShards::IoShards(std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    // One thread runs each: Asio may leave out the scheduler's locking.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    work_.emplace_back(contexts_.back()->get_executor());
  }
}

IoShards::~IoShards() { stop(); }

std::size_t IoShards::next() { return next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size(); }

void IoShards::start(const char* thread_name, std::function<void(const std::exception&)> on_error) {
  for (auto& context : contexts_) {
    threads_.emplace_back([&io = *context, on_error] {
      for (;;) {
        try {
          io.run();
          return;
        } catch (const std::exception& e) {
          on_error(e);
        }
      }
    });
    // Named here, before start() returns, so the name is there by "ready".
    pthread_setname_np(threads_.back().native_handle(), thread_name);
  }
}

void IoShards::stop() {
  for (auto& work : work_) work.reset();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

}  // namespace chat::proxy
