// history-http's copy of recent messages (RecentHistory), driven by hand:
// the frames it sends on the watch stream are recorded, its loads answered
// by the test, and the stream's events given to it in the order a chat
// service sends them.
#include "recent_history.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace chat::history_http {
namespace {

class FakeService {
 public:
  RecentHistory::Service service() {
    return {
        .send =
            [this](const chat::ChatStream& frame) {
              sent.push_back(frame);
              return true;
            },
        .load =
            [this](const std::string& room, std::uint32_t limit, RecentHistory::LoadDone done) {
              loads.push_back(Load{room, limit, std::move(done)});
            },
    };
  }

  struct Load {
    std::string room;
    std::uint32_t limit;
    RecentHistory::LoadDone done;
  };
  std::vector<chat::ChatStream> sent;
  std::vector<Load> loads;
};

chat::ChatMessage message(const std::string& room, std::uint64_t sequence) {
  chat::ChatMessage m;
  m.set_id("m" + std::to_string(sequence));
  m.set_room_id(room);
  m.set_sender_id("ann");
  m.set_content("message " + std::to_string(sequence));
  m.set_sequence(sequence);
  return m;
}

chat::GetChatHistoryResponse page_of(const std::string& room, std::uint64_t first, std::uint64_t last, bool has_more) {
  chat::GetChatHistoryResponse page;
  for (std::uint64_t s = first; s <= last && s > 0; ++s) *page.add_messages() = message(room, s);
  page.set_has_more(has_more);
  return page;
}

chat::Watching watching(const std::string& room, std::uint64_t token, std::uint64_t last, std::uint64_t first = 1) {
  chat::Watching w;
  w.set_room_id(room);
  w.set_token(token);
  w.set_last_sequence(last);
  w.set_first_sequence(last == 0 ? 0 : first);
  return w;
}

// An answer as the test sees it: not given yet, nullptr, or a page.
struct Answer {
  bool given = false;
  std::shared_ptr<const RecentHistory::Page> page;
};

RecentHistory::PageDone into(Answer& answer) {
  return [&answer](std::shared_ptr<const RecentHistory::Page> page) {
    answer.given = true;
    answer.page = std::move(page);
  };
}

std::vector<std::uint64_t> sequences(const RecentHistory::Page& page) {
  std::vector<std::uint64_t> out;
  const auto body = boost::json::parse(page.body).as_object();
  for (const auto& m : body.at("messages").as_array()) {
    out.push_back(std::stoull(std::string(m.as_object().at("sequence").as_string())));
  }
  return out;
}

bool has_more(const RecentHistory::Page& page) { return boost::json::parse(page.body).as_object().at("has_more").as_bool(); }

class RecentHistoryTest : public ::testing::Test {
 protected:
  RecentHistory::Limits limits() {
    RecentHistory::Limits l;
    l.room_messages = 5;
    return l;
  }
  FakeService fake;
  RecentHistory recent{limits(), fake.service()};

  std::uint64_t last_watch_token(const std::string& room) {
    for (auto it = fake.sent.rbegin(); it != fake.sent.rend(); ++it) {
      if (it->has_watch() && it->watch().room_id() == room) return it->watch().token();
    }
    ADD_FAILURE() << "no Watch of " << room;
    return 0;
  }

  // The room's messages 1..last are loaded and the copy is ready.
  void load(const std::string& room, std::uint64_t last, bool has_more = false, std::uint64_t first = 1) {
    Answer answer;
    recent.newest_page(room, 5, into(answer));
    recent.on_watching(watching(room, last_watch_token(room), last));
    ASSERT_TRUE(answer.given);
    ASSERT_EQ(answer.page, nullptr) << "a room not yet loaded is read from the service";
    ASSERT_FALSE(fake.loads.empty());
    const auto page = page_of(room, first, last, has_more);
    auto done = std::move(fake.loads.back().done);
    fake.loads.pop_back();
    done(&page);
  }

  // A request answered after one round trip.
  Answer ask(const std::string& room, std::uint32_t limit, std::uint64_t last, std::uint64_t first = 1) {
    Answer answer;
    recent.newest_page(room, limit, into(answer));
    EXPECT_FALSE(answer.given) << "answered before the service vouched for it";
    recent.on_watching(watching(room, last_watch_token(room), last, first));
    EXPECT_TRUE(answer.given);
    return answer;
  }
};

TEST_F(RecentHistoryTest, WithoutTheStreamEveryRequestIsReadFromTheService) {
  Answer answer;
  recent.newest_page("r1", 5, into(answer));
  EXPECT_TRUE(answer.given);
  EXPECT_EQ(answer.page, nullptr);
  EXPECT_TRUE(fake.sent.empty());
}

TEST_F(RecentHistoryTest, TheFirstRequestLoadsTheRoomAndTheNextIsAnsweredFromTheCopy) {
  recent.stream_up();
  load("r1", 3);
  ASSERT_EQ(fake.sent.size(), 1u);
  EXPECT_EQ(fake.sent[0].watch().room_id(), "r1");

  const auto answer = ask("r1", 5, 3);
  ASSERT_NE(answer.page, nullptr);
  EXPECT_EQ(sequences(*answer.page), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_FALSE(has_more(*answer.page));
  EXPECT_FALSE(answer.page->etag.empty());
  EXPECT_EQ(recent.stats().answered, 1u);
}

TEST_F(RecentHistoryTest, AMessageFromTheStreamIsInTheNextAnswer) {
  recent.stream_up();
  load("r1", 3);
  const auto before = ask("r1", 5, 3);
  recent.on_message(message("r1", 4));
  const auto after = ask("r1", 5, 4);
  ASSERT_NE(after.page, nullptr);
  EXPECT_EQ(sequences(*after.page), (std::vector<std::uint64_t>{1, 2, 3, 4}));
  EXPECT_NE(after.page->etag, before.page->etag);
}

// The never-stale rule: a request is answered only by a Watching whose
// Watch left after the request came.
TEST_F(RecentHistoryTest, ARequestThatComesWhileAWatchIsOutWaitsForTheNextOne) {
  recent.stream_up();
  load("r1", 3);
  Answer first;
  recent.newest_page("r1", 5, into(first));
  const auto token = last_watch_token("r1");
  const auto watches = fake.sent.size();
  Answer second;
  recent.newest_page("r1", 5, into(second));
  EXPECT_EQ(fake.sent.size(), watches) << "one Watch out per room at a time";

  recent.on_watching(watching("r1", token, 3));
  EXPECT_TRUE(first.given);
  EXPECT_FALSE(second.given) << "the Watch out may have been answered before the second request came";
  ASSERT_EQ(fake.sent.size(), watches + 1);
  // Meanwhile message 4 was acknowledged: the next Watching comes after it.
  recent.on_message(message("r1", 4));
  recent.on_watching(watching("r1", last_watch_token("r1"), 4));
  ASSERT_TRUE(second.given);
  ASSERT_NE(second.page, nullptr);
  EXPECT_EQ(sequences(*second.page), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(RecentHistoryTest, AnAnswerForAnotherWatchIsNotTaken) {
  recent.stream_up();
  load("r1", 3);
  Answer answer;
  recent.newest_page("r1", 5, into(answer));
  recent.on_watching(watching("r1", last_watch_token("r1") + 100, 3));
  EXPECT_FALSE(answer.given);
}

TEST_F(RecentHistoryTest, MessagesThatComeWhileTheRoomLoadsAreKept) {
  recent.stream_up();
  Answer answer;
  recent.newest_page("r1", 5, into(answer));
  recent.on_watching(watching("r1", last_watch_token("r1"), 3));
  ASSERT_EQ(fake.loads.size(), 1u);
  EXPECT_EQ(fake.loads[0].limit, 5u);
  recent.on_message(message("r1", 4));
  recent.on_message(message("r1", 5));
  // The read was made after message 4 was stored, not 5.
  const auto page = page_of("r1", 1, 4, false);
  fake.loads[0].done(&page);

  const auto later = ask("r1", 5, 5);
  ASSERT_NE(later.page, nullptr);
  EXPECT_EQ(sequences(*later.page), (std::vector<std::uint64_t>{1, 2, 3, 4, 5}));
}

TEST_F(RecentHistoryTest, AGapOnTheStreamReadsTheRoomAgain) {
  recent.stream_up();
  load("r1", 3);
  recent.on_message(message("r1", 5));  // 4 never came
  const auto answer = ask("r1", 5, 5);
  EXPECT_EQ(answer.page, nullptr);
  EXPECT_EQ(fake.loads.size(), 1u);
  EXPECT_EQ(recent.stats().reloads, 1u);
}

TEST_F(RecentHistoryTest, AWatchingAheadOfTheCopyReadsTheRoomAgain) {
  recent.stream_up();
  load("r1", 3);
  const auto answer = ask("r1", 5, 4);  // the service says 4; the stream never brought it
  EXPECT_EQ(answer.page, nullptr);
  EXPECT_EQ(fake.loads.size(), 1u);
}

TEST_F(RecentHistoryTest, TheCopyKeepsTheNewestMessagesAndAnswersOnlyWhatItHolds) {
  recent.stream_up();
  load("r1", 4);
  recent.on_message(message("r1", 5));
  recent.on_message(message("r1", 6));  // room_messages is 5: message 1 goes
  const auto three = ask("r1", 3, 6);
  ASSERT_NE(three.page, nullptr);
  EXPECT_EQ(sequences(*three.page), (std::vector<std::uint64_t>{4, 5, 6}));
  EXPECT_TRUE(has_more(*three.page));
  const auto five = ask("r1", 5, 6);
  ASSERT_NE(five.page, nullptr);
  EXPECT_TRUE(has_more(*five.page)) << "message 1 is still in the room";

  EXPECT_FALSE(recent.covers([] {
    chat::GetChatHistoryRequest request;
    request.set_room_id("r1");
    request.set_limit(6);
    return request;
  }()));
}

TEST_F(RecentHistoryTest, APageLongerThanAPartialCopyIsReadFromTheService) {
  recent.stream_up();
  load("r1", 8, /*has_more=*/true, /*first=*/6);  // the load held 6..8 of a longer room
  const auto answer = ask("r1", 5, 8);
  EXPECT_EQ(answer.page, nullptr);
  const auto three = ask("r1", 3, 8);
  ASSERT_NE(three.page, nullptr);
  EXPECT_EQ(sequences(*three.page), (std::vector<std::uint64_t>{6, 7, 8}));
  EXPECT_TRUE(has_more(*three.page));
}

TEST_F(RecentHistoryTest, MessagesRetentionRemovedLeaveTheCopy) {
  recent.stream_up();
  load("r1", 4);
  const auto answer = ask("r1", 5, 4, /*first=*/3);
  ASSERT_NE(answer.page, nullptr);
  EXPECT_EQ(sequences(*answer.page), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_FALSE(has_more(*answer.page));
}

TEST_F(RecentHistoryTest, WhenTheStreamEndsWaitersAreReadFromTheServiceAndTheCopyIsForgotten) {
  recent.stream_up();
  load("r1", 3);
  Answer waiting;
  recent.newest_page("r1", 5, into(waiting));
  recent.stream_down();
  ASSERT_TRUE(waiting.given);
  EXPECT_EQ(waiting.page, nullptr);
  EXPECT_EQ(recent.stats().rooms, 0u);

  recent.stream_up();
  const auto again = ask("r1", 5, 3);
  EXPECT_EQ(again.page, nullptr) << "the room is loaded again on the new stream";
}

TEST_F(RecentHistoryTest, AWatchUnansweredPastItsDeadlineSendsItsRequestsToTheService) {
  recent.stream_up();
  load("r1", 3);
  Answer waiting;
  recent.newest_page("r1", 5, into(waiting));
  const auto late_token = last_watch_token("r1");
  recent.expire(std::chrono::steady_clock::now() - std::chrono::seconds(3));
  EXPECT_FALSE(waiting.given) << "not yet past the deadline";
  recent.expire(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  ASSERT_TRUE(waiting.given);
  EXPECT_EQ(waiting.page, nullptr);

  recent.on_watching(watching("r1", late_token, 3));  // too late: answers nothing
  const auto next = ask("r1", 5, 3);
  EXPECT_NE(last_watch_token("r1"), late_token);
  ASSERT_NE(next.page, nullptr);
  EXPECT_EQ(sequences(*next.page), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(RecentHistoryTest, AServiceThatDoesNotTakeWatchesTurnsTheCopyOff) {
  recent.stream_up();
  Answer answer;
  recent.newest_page("r1", 5, into(answer));
  recent.on_refused("r1", chat::Error::UNKNOWN_PAYLOAD);
  ASSERT_TRUE(answer.given);
  EXPECT_EQ(answer.page, nullptr);
  const auto sent = fake.sent.size();
  Answer next;
  recent.newest_page("r2", 5, into(next));
  EXPECT_TRUE(next.given);
  EXPECT_EQ(fake.sent.size(), sent) << "no more Watch once refused";
}

TEST_F(RecentHistoryTest, TheRoomsReadLeastLatelyGoFirstWhenOverTheBound) {
  RecentHistory::Limits small;
  small.room_messages = 5;
  small.max_bytes = 3000;  // a few rooms of a few messages
  FakeService service;
  RecentHistory bounded(small, service.service());
  bounded.stream_up();
  std::vector<std::string> unwatched;
  for (int i = 0; i < 8; ++i) {
    const std::string room = "room" + std::to_string(i);
    Answer answer;
    bounded.newest_page(room, 5, into(answer));
    const auto token = service.sent.back().watch().token();
    bounded.on_watching(watching(room, token, 3));
    const auto page = page_of(room, 1, 3, false);
    auto done = std::move(service.loads.back().done);
    done(&page);
  }
  for (const auto& frame : service.sent) {
    if (frame.has_unwatch()) unwatched.push_back(frame.unwatch().room_id());
  }
  const auto stats = bounded.stats();
  EXPECT_LE(stats.bytes, small.max_bytes);
  ASSERT_FALSE(unwatched.empty());
  EXPECT_EQ(unwatched.front(), "room0");
  EXPECT_EQ(stats.rooms + unwatched.size(), 8u);
}

}  // namespace
}  // namespace chat::history_http
