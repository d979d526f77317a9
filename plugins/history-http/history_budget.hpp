// What history answers may hold at once, in all: calls to the chat service
// in flight (`max_calls`), and bytes of answers from the moment a call starts
// until its answer is written to the client (`max_bytes`; a call reserves
// `page_bytes`, the most one answer may be, and keeps what its answer
// really is). A request that finds no room waits for it, in order: its
// connection reads nothing more meanwhile, which is backpressure, not
// buffering. One that waited `max_wait` is answered 503 instead.
//
// Without it, 200 connections asking for 1000 messages each and reading
// nothing held 4 MB each, and took the host from 364 MB to 1.8 GB.
//
// Waiting requests are looked at whenever a lease ends: every call ends
// within its deadline and every write within the request timeout, so none
// waits much beyond `max_wait`.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace chat::history_http {

class HistoryBudget : public std::enable_shared_from_this<HistoryBudget> {
 public:
  // Filled from history-http's keys (max_history_calls, ...), which hold the defaults.
  struct Limits {
    std::size_t max_calls = 0;
    std::size_t max_bytes = 0;
    std::size_t page_bytes = 0;
    std::chrono::milliseconds max_wait{};
  };

  // One request's share: a call slot until call_done(), bytes until the
  // lease is destroyed (after its answer is written).
  class Lease {
   public:
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;

    // The call has answered with an answer of `bytes`: its slot is free,
    // and it holds `bytes` (at most what it reserved) from now on.
    void call_done(std::size_t bytes);

   private:
    friend class HistoryBudget;
    explicit Lease(std::shared_ptr<HistoryBudget> budget) : budget_(std::move(budget)) {}

    std::shared_ptr<HistoryBudget> budget_;
    bool calling_ = true;
    std::size_t bytes_ = 0;
  };

  using Start = std::function<void(std::shared_ptr<Lease>)>;
  using GiveUp = std::function<void()>;

  static std::shared_ptr<HistoryBudget> make(Limits limits) {
    return std::shared_ptr<HistoryBudget>(new HistoryBudget(limits));
  }

  // Runs `start` with a lease, now (on this thread) or once there is room
  // (on the thread that made it); or `give_up` after max_wait. Exactly one
  // of them runs, once.
  void acquire(Start start, GiveUp give_up);

  // Stopping: waiting requests are dropped unanswered (their connections
  // are going), later ones given up at once.
  void close();

 private:
  using Clock = std::chrono::steady_clock;
  struct Waiter {
    Start start;
    GiveUp give_up;
    Clock::time_point deadline;
  };

  explicit HistoryBudget(Limits limits) : limits_(limits) {}
  bool fits_locked() const;
  // Leases changed: starts the waiters that fit now, gives up the expired.
  void wake();

  const Limits limits_;
  std::mutex mutex_;
  std::size_t calls_ = 0;
  std::size_t bytes_ = 0;
  std::deque<Waiter> waiting_;
  bool closed_ = false;
};

}  // namespace chat::history_http
