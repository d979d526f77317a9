#include "limits/connection_gate.hpp"

#include <sys/resource.h>

#include <utility>

namespace chat::limits {

ConnectionGate::Ticket::Ticket(Ticket&& other) noexcept
    : gate_(std::move(other.gate_)), address_(std::move(other.address_)), refusal_(other.refusal_) {
  other.gate_.reset();
}

ConnectionGate::Ticket& ConnectionGate::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    gate_ = std::move(other.gate_);
    address_ = std::move(other.address_);
    refusal_ = other.refusal_;
    other.gate_.reset();
  }
  return *this;
}

void ConnectionGate::Ticket::release() {
  if (!gate_) return;
  gate_->release(address_, refusal_);
  gate_.reset();
}

ConnectionGate::ConnectionGate(Limits limits) : limits_(limits), file_limit_(open_file_limit()) {}

ConnectionGate::Admission ConnectionGate::admit(const boost::asio::ip::address& from, int descriptor) {
  if (descriptor >= 0 && file_limit_ > kFileReserve &&
      static_cast<std::size_t>(descriptor) >= file_limit_ - kFileReserve) {
    return {Verdict::over_files, Ticket()};
  }
  // IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d: one address either way.
  auto address = from;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
  }
  std::string key = address.to_string();
  std::lock_guard lock(mutex_);
  auto verdict = Verdict::admitted;
  if (open_ >= limits_.total) {
    verdict = Verdict::over_total;
  } else if (limits_.per_address > 0) {
    auto it = per_address_.find(key);
    if (it != per_address_.end() && it->second >= limits_.per_address) verdict = Verdict::over_address;
  }
  if (verdict == Verdict::admitted) {
    ++open_;
    if (limits_.per_address > 0) ++per_address_[key];
    return {verdict, Ticket(shared_from_this(), std::move(key), false)};
  }
  if (refusing_ >= limits_.refusing) return {Verdict::dropped, Ticket()};
  ++refusing_;
  return {verdict, Ticket(shared_from_this(), std::move(key), true)};
}

void ConnectionGate::release(const std::string& address, bool refusal) {
  std::lock_guard lock(mutex_);
  if (refusal) {
    --refusing_;
    return;
  }
  --open_;
  if (limits_.per_address == 0) return;
  auto it = per_address_.find(address);
  if (it != per_address_.end() && --it->second == 0) per_address_.erase(it);
}

std::size_t ConnectionGate::open() const {
  std::lock_guard lock(mutex_);
  return open_;
}

std::size_t open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 0;
  return static_cast<std::size_t>(limit.rlim_cur);
}

std::string connection_cap_warning(std::size_t max_connections) {
  // Files the host needs beside the sockets: the store, logs, gRPC, the other listeners.
  constexpr std::size_t kReserve = 256;
  const auto limit = open_file_limit();
  if (limit == 0 || max_connections + kReserve <= limit) return {};
  return "max_connections " + std::to_string(max_connections) + " is more than this process may open (" +
         std::to_string(limit) + " files, some taken by the host itself): connections will be refused for want " +
         "of descriptors before the cap; raise the limit (ulimit -n, LimitNOFILE=) or lower max_connections";
}

}  // namespace chat::limits
