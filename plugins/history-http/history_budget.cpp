#include "history_budget.hpp"

#include <algorithm>
#include <vector>

namespace chat::history_http {

HistoryBudget::Lease::~Lease() {
  {
    std::lock_guard lock(budget_->mutex_);
    if (calling_) --budget_->calls_;
    budget_->bytes_ -= bytes_;
  }
  budget_->wake();
}

void HistoryBudget::Lease::call_done(std::size_t bytes) {
  {
    std::lock_guard lock(budget_->mutex_);
    if (!calling_) return;
    calling_ = false;
    --budget_->calls_;
    const std::size_t keep = std::min(bytes, bytes_);
    budget_->bytes_ -= bytes_ - keep;
    bytes_ = keep;
  }
  budget_->wake();
}

bool HistoryBudget::fits_locked() const {
  return calls_ < limits_.max_calls && bytes_ + limits_.page_bytes <= limits_.max_bytes;
}

void HistoryBudget::close() {
  std::deque<Waiter> dropped;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    dropped.swap(waiting_);
  }
}

void HistoryBudget::acquire(Start start, GiveUp give_up) {
  std::shared_ptr<Lease> lease;
  {
    std::unique_lock lock(mutex_);
    if (closed_) {
      lock.unlock();
      return give_up();
    }
    if (!waiting_.empty() || !fits_locked()) {
      waiting_.push_back({std::move(start), std::move(give_up), Clock::now() + limits_.max_wait});
      return;
    }
    ++calls_;
    bytes_ += limits_.page_bytes;
    lease.reset(new Lease(shared_from_this()));
    lease->bytes_ = limits_.page_bytes;
  }
  start(std::move(lease));
}

void HistoryBudget::wake() {
  std::vector<std::pair<Start, std::shared_ptr<Lease>>> starting;
  std::vector<GiveUp> giving_up;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    while (!waiting_.empty()) {
      auto& front = waiting_.front();
      if (front.deadline <= now) {
        giving_up.push_back(std::move(front.give_up));
      } else if (fits_locked()) {
        ++calls_;
        bytes_ += limits_.page_bytes;
        std::shared_ptr<Lease> lease(new Lease(shared_from_this()));
        lease->bytes_ = limits_.page_bytes;
        starting.emplace_back(std::move(front.start), std::move(lease));
      } else {
        break;
      }
      waiting_.pop_front();
    }
  }
  // Outside the lock: a start may end at once (a call refused while
  // stopping) and come back here.
  for (auto& give_up : giving_up) give_up();
  for (auto& [start, lease] : starting) start(std::move(lease));
}

}  // namespace chat::history_http
