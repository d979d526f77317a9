// What bounds clients, without sockets: the connection gate's counts, the
// acceptor's log throttle, the service token's comparison and history-http's
// budget of calls and bytes.
#include "history_budget.hpp"
#include "limits/accept_backoff.hpp"
#include "limits/connection_gate.hpp"
#include "service_auth/service_token.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

namespace {

using chat::history_http::HistoryBudget;
using chat::limits::AcceptBackoff;
using chat::limits::ConnectionGate;
using Verdict = ConnectionGate::Verdict;

const auto kAlice = boost::asio::ip::make_address("192.0.2.1");
const auto kBob = boost::asio::ip::make_address("192.0.2.2");

TEST(ConnectionGate, CountsInAllAndPerAddressAndGivesSlotsBack) {
  auto gate = ConnectionGate::make({.total = 3, .per_address = 2, .refusing = 1});
  auto a1 = gate->admit(kAlice);
  auto a2 = gate->admit(kAlice);
  EXPECT_EQ(a1.verdict, Verdict::admitted);
  EXPECT_EQ(a2.verdict, Verdict::admitted);
  auto a3 = gate->admit(kAlice);
  EXPECT_EQ(a3.verdict, Verdict::over_address);
  // One refusal may be under way at a time; the next is dropped.
  EXPECT_EQ(gate->admit(kAlice).verdict, Verdict::dropped);
  auto b1 = gate->admit(kBob);
  EXPECT_EQ(b1.verdict, Verdict::admitted);
  a3.ticket = {};  // the refusal is over
  EXPECT_EQ(gate->admit(kBob).verdict, Verdict::over_total);
  EXPECT_EQ(gate->open(), 3U);

  a1.ticket = {};
  EXPECT_EQ(gate->open(), 2U);
  auto again = gate->admit(kAlice);
  EXPECT_EQ(again.verdict, Verdict::admitted);
  // A v4-mapped IPv6 address is the same client as its IPv4 address.
  EXPECT_EQ(gate->admit(boost::asio::ip::make_address("::ffff:192.0.2.1")).verdict, Verdict::over_total);
}

TEST(ConnectionGate, ADescriptorNearTheProcessLimitIsRefused) {
  auto gate = ConnectionGate::make({.total = 1000000, .per_address = 0});
  const auto limit = chat::limits::open_file_limit();
  ASSERT_GT(limit, ConnectionGate::kFileReserve);
  EXPECT_EQ(gate->admit(kAlice, 5).verdict, Verdict::admitted);
  EXPECT_EQ(gate->admit(kAlice, static_cast<int>(limit - ConnectionGate::kFileReserve)).verdict, Verdict::over_files);
}

TEST(AcceptBackoff, LogsAtMostOnceASecondWithTheCountSince) {
  AcceptBackoff backoff;
  const auto t0 = AcceptBackoff::Clock::now();
  EXPECT_EQ(backoff.failed("accept: Too many open files", t0), "accept: Too many open files");
  for (int i = 1; i <= 9; ++i) {
    EXPECT_FALSE(backoff.failed("accept: Too many open files", t0 + std::chrono::milliseconds(100 * i)));
  }
  EXPECT_EQ(backoff.failed("accept: Too many open files", t0 + std::chrono::milliseconds(1000)),
            "accept: Too many open files (10 failures since the last report)");
}

TEST(ServiceToken, MatchesOnlyItselfAsABearer) {
  const chat::service_auth::ServiceToken token("a service token of more than thirty-two bytes");
  EXPECT_TRUE(token.matches("a service token of more than thirty-two bytes"));
  EXPECT_FALSE(token.matches("a service token of more than thirty-two byteS"));
  EXPECT_FALSE(token.matches("a service token"));
  EXPECT_FALSE(token.matches(""));
  const chat::service_auth::ServiceToken abc("abc");
  EXPECT_TRUE(abc.presented_in("Bearer abc"));
  EXPECT_TRUE(abc.presented_in("bearer   abc"));
  EXPECT_FALSE(abc.presented_in("Basic abc"));
  EXPECT_FALSE(abc.presented_in("Bearer"));
  // A token file may hold spaces: everything after the scheme is the token.
  EXPECT_TRUE(token.presented_in("Bearer a service token of more than thirty-two bytes"));
}

// A budget of two calls and three pages of bytes.
std::shared_ptr<HistoryBudget> small_budget(std::chrono::milliseconds wait = std::chrono::seconds(10)) {
  return HistoryBudget::make({.max_calls = 2, .max_bytes = 3000, .page_bytes = 1000, .max_wait = wait});
}

TEST(HistoryBudget, RequestsBeyondTheCallsWaitInOrderAndStartAsCallsEnd) {
  auto budget = small_budget();
  std::vector<std::shared_ptr<HistoryBudget::Lease>> leases;
  std::vector<int> started;
  for (int i = 0; i < 4; ++i) {
    budget->acquire(
        [&, i](std::shared_ptr<HistoryBudget::Lease> lease) {
          started.push_back(i);
          leases.push_back(std::move(lease));
        },
        [] { FAIL() << "nobody gives up here"; });
  }
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  leases[0]->call_done(10);  // answered: its slot is free, its 10 bytes held
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  leases[1]->call_done(1000);
  // Calls: 1 under way (2); bytes: 10 + 1000 + 1000 reserved, a fourth page does not fit.
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  leases[1].reset();  // written: its bytes are free
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3}));
}

TEST(HistoryBudget, ARequestThatWaitedTooLongGivesUpAndOneAfterCloseAtOnce) {
  auto budget = small_budget(std::chrono::milliseconds(1));
  std::vector<std::shared_ptr<HistoryBudget::Lease>> leases;
  for (int i = 0; i < 2; ++i) {
    budget->acquire([&](std::shared_ptr<HistoryBudget::Lease> lease) { leases.push_back(std::move(lease)); }, [] {});
  }
  bool gave_up = false;
  bool third_started = false;
  budget->acquire([&](std::shared_ptr<HistoryBudget::Lease>) { third_started = true; }, [&] { gave_up = true; });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  leases[0].reset();  // waiters are looked at when a lease ends
  EXPECT_TRUE(gave_up);
  EXPECT_FALSE(third_started);

  budget->close();
  bool refused = false;
  budget->acquire([](std::shared_ptr<HistoryBudget::Lease>) { FAIL(); }, [&] { refused = true; });
  EXPECT_TRUE(refused);
}

}  // namespace
