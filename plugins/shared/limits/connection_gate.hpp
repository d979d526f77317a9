// How many sockets a listener holds, in all and from one address, counted
// from accept: an idle socket that never sends a byte holds a file
// descriptor as much as a chatting one does, so it counts as much.
//
//   auto admission = gate->admit(socket.remote_endpoint().address(), socket.native_handle());
//   if (admission.verdict == Verdict::admitted) {
//     serve(std::move(socket), std::move(admission.ticket));
//   } else {
//     turn_away(std::move(socket), std::move(admission), ...);  // socket_refusal.hpp
//   }
//
// A ticket gives its slot back when it is destroyed: keep it in the session.
// Refused sockets hold a slot of their own (at most `refusing` at a time)
// while their answer goes out; beyond that they are closed unanswered.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace chat::limits {

class ConnectionGate : public std::enable_shared_from_this<ConnectionGate> {
 public:
  struct Limits {
    std::size_t total = 10000;
    std::size_t per_address = 0;  // 0: no limit per address
    std::size_t refusing = 64;    // refused sockets being answered at once
  };

  // over_files: the process is about to run out of file descriptors (see
  // admit); such a socket is closed at once, unanswered.
  enum class Verdict { admitted, over_total, over_address, over_files, dropped };

  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() { release(); }

   private:
    friend class ConnectionGate;
    Ticket(std::shared_ptr<ConnectionGate> gate, std::string address, bool refusal)
        : gate_(std::move(gate)), address_(std::move(address)), refusal_(refusal) {}
    void release();

    std::shared_ptr<ConnectionGate> gate_;
    std::string address_;
    bool refusal_ = false;
  };

  struct Admission {
    Verdict verdict;
    Ticket ticket;  // empty when dropped
  };

  static std::shared_ptr<ConnectionGate> make(Limits limits) {
    return std::shared_ptr<ConnectionGate>(new ConnectionGate(limits));
  }

  // `descriptor`: the accepted socket's file descriptor. The kernel hands
  // out the lowest free one, so a number within kFileReserve of the
  // process's limit means nearly every descriptor is taken: the socket is
  // refused, and what is left stays for what the host already serves (its
  // store, gRPC, the sanitizers' own checks).
  Admission admit(const boost::asio::ip::address& from, int descriptor = -1);

  static constexpr std::size_t kFileReserve = 64;

  std::size_t open() const;

 private:
  explicit ConnectionGate(Limits limits);
  void release(const std::string& address, bool refusal);

  const Limits limits_;
  const std::size_t file_limit_;  // open_file_limit() when made; 0: unknown
  mutable std::mutex mutex_;
  std::size_t open_ = 0;
  std::size_t refusing_ = 0;
  std::unordered_map<std::string, std::size_t> per_address_;
};

// The soft limit on open files of this process (RLIMIT_NOFILE); 0 if unknown.
std::size_t open_file_limit();

// A warning for a listener whose max_connections this process cannot reach
// (each socket is a file): empty when it fits, with room for what else the
// host has open.
std::string connection_cap_warning(std::size_t max_connections);

}  // namespace chat::limits
