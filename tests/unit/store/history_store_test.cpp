// HistoryStore: one suite run against every store (memory, SQLite on a
// fresh file, PostgreSQL in a fresh schema of the test server), then what
// only the SQLite store does (durability, files, failures, locking).
// postgres_store_test.cpp has what only PostgreSQL does.
#include "store/history_store.hpp"

#include "support/test_postgres.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace chat::store {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A directory of its own under the test temp dir, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = "history_store_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    if (info != nullptr) name += std::string("_") + info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    path_ = fs::path(::testing::TempDir()) / name;
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A plain SQLite connection of the test's own, to look at or lock the file.
class RawDb {
 public:
  explicit RawDb(const fs::path& file) {
    if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << file << ": " << sqlite3_errmsg(db_);
    }
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << (error != nullptr ? error : "?");
    }
    sqlite3_free(error);
  }
  // The first column of every row, as text.
  std::vector<std::string> column(const std::string& sql) {
    std::vector<std::string> values;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return values;
    }
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      values.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
    }
    sqlite3_finalize(stmt);
    return values;
  }
  std::string value(const std::string& sql) {
    auto values = column(sql);
    return values.empty() ? std::string() : values.front();
  }

 private:
  sqlite3* db_ = nullptr;
};

NewMessage message(std::string room, std::string sender, std::string content, std::string client_id = "",
                   std::int64_t timestamp_ms = 1000) {
  return NewMessage{std::move(room), std::move(sender), std::move(client_id), std::move(content), timestamp_ms};
}

// `count` messages into `room`, one batch, contents "<room>-<n>".
std::vector<StoredMessage> append_many(HistoryStore& store, const std::string& room, int count,
                                       const std::string& sender = "alice", std::int64_t timestamp_ms = 1000) {
  std::vector<NewMessage> batch;
  const auto first = store.bounds(room).last_sequence + 1;
  for (int i = 0; i < count; ++i) {
    batch.push_back(
        message(room, sender, room + "-" + std::to_string(first + static_cast<std::uint64_t>(i)), "", timestamp_ms));
  }
  return store.append(batch);
}

// `count` messages into a new `room`, one batch, contents "1".."count":
// alice sends the odd ones, bob the even ones.
void append_alice_and_bob(HistoryStore& store, const std::string& room, int count) {
  std::vector<NewMessage> batch;
  for (int i = 1; i <= count; ++i) batch.push_back(message(room, i % 2 == 1 ? "alice" : "bob", std::to_string(i)));
  store.append(batch);
}

std::vector<std::uint64_t> sequences(const std::vector<StoredMessage>& messages) {
  std::vector<std::uint64_t> result;
  for (const auto& m : messages) result.push_back(m.sequence);
  return result;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
  std::vector<std::uint64_t> result;
  for (auto s = first; s <= last; ++s) result.push_back(s);
  return result;
}

// after: unset reads backwards (from `before` or the newest), set reads
// forwards from just after it (0: from the room's start).
HistoryQuery query(const std::string& room, std::uint32_t limit, std::uint64_t before = 0,
                   std::optional<std::uint64_t> after = std::nullopt, const std::string& sender = "") {
  HistoryQuery q;
  q.room_id = room;
  q.sender_id = sender;
  q.limit = limit;
  q.before = before;
  q.after = after;
  return q;
}

// Each kind opens a fresh, empty store; `keep` holds what must outlive it.
struct MemoryKind {
  static constexpr const char* kName = "Memory";
  static std::unique_ptr<HistoryStore> open(const fs::path& /*dir*/, std::shared_ptr<void>& /*keep*/) {
    return make_memory_store();
  }
};

struct SqliteKind {
  static constexpr const char* kName = "Sqlite";
  static fs::path file(const fs::path& dir) { return dir / "data" / "chat.db"; }
  static std::unique_ptr<HistoryStore> open(const fs::path& dir) {
    SqliteOptions options;
    options.synchronous = "normal";
    options.reader_connections = 3;
    return open_sqlite_store(file(dir), options);
  }
  static std::unique_ptr<HistoryStore> open(const fs::path& dir, std::shared_ptr<void>& /*keep*/) {
    return open(dir);
  }
};

struct PostgresKind {
  static constexpr const char* kName = "Postgres";
  static std::unique_ptr<HistoryStore> open(const fs::path& /*dir*/, std::shared_ptr<void>& keep) {
    auto database = std::make_shared<chathost::test::TestDatabase>();
    keep = database;
    PostgresOptions options;
    options.url = database->url();
    options.node_id = "test";
    options.reader_connections = 3;
    return open_postgres_store(options);
  }
};

template <typename Kind>
class HistoryStoreTest : public ::testing::Test {
 protected:
  HistoryStoreTest() : store_(Kind::open(dir_.path(), keep_)) {}
  HistoryStore& store() { return *store_; }

  ScratchDir dir_;
  std::shared_ptr<void> keep_;  // before the store: outlives it
  std::unique_ptr<HistoryStore> store_;
};

struct KindNames {
  template <typename Kind>
  static std::string GetName(int /*index*/) {
    return Kind::kName;
  }
};

using Kinds = ::testing::Types<MemoryKind, SqliteKind, PostgresKind>;
TYPED_TEST_SUITE(HistoryStoreTest, Kinds, KindNames);

TYPED_TEST(HistoryStoreTest, SequencesStartAtOnePerRoomAndGrowIndependently) {
  auto& store = this->store();
  EXPECT_EQ(sequences(store.append(std::vector{message("a", "alice", "1")})), std::vector<std::uint64_t>{1});
  EXPECT_EQ(sequences(store.append(std::vector{message("b", "bob", "1")})), std::vector<std::uint64_t>{1});
  EXPECT_EQ(sequences(store.append(std::vector{message("a", "alice", "2")})), std::vector<std::uint64_t>{2});
  EXPECT_EQ(sequences(append_many(store, "a", 3)), range(3, 5));
  EXPECT_EQ(sequences(append_many(store, "b", 2)), range(2, 3));
  EXPECT_EQ(store.bounds("a").last_sequence, 5U);
  EXPECT_EQ(store.bounds("b").last_sequence, 3U);
}

TYPED_TEST(HistoryStoreTest, BatchComesBackInInputOrderWithSequences) {
  auto& store = this->store();
  append_many(store, "b", 2);
  const std::vector<NewMessage> batch{
      message("a", "alice", "hello", "c1", 111), message("b", "bob", "hi", "c2", 222),
      message("a", "carol", "", "", 333),        message("c", "alice", "new room", "c3", 444),
      message("b", "bob", "again", "c4", 555),
  };
  const auto stored = store.append(batch);
  ASSERT_EQ(stored.size(), batch.size());
  const std::vector<std::uint64_t> expected{1, 3, 2, 1, 4};
  for (std::size_t i = 0; i < batch.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(stored[i].room_id, batch[i].room_id);
    EXPECT_EQ(stored[i].sequence, expected[i]);
    EXPECT_EQ(stored[i].sender_id, batch[i].sender_id);
    EXPECT_EQ(stored[i].client_id, batch[i].client_id);
    EXPECT_EQ(stored[i].content, batch[i].content);
    EXPECT_EQ(stored[i].timestamp_ms, batch[i].timestamp_ms);
  }
  // And that is what is read back.
  const auto page = store.history(query("a", 10));
  ASSERT_EQ(page.messages.size(), 2U);
  EXPECT_EQ(page.messages[0].content, "hello");
  EXPECT_EQ(page.messages[0].client_id, "c1");
  EXPECT_EQ(page.messages[0].timestamp_ms, 111);
  EXPECT_EQ(page.messages[0].room_id, "a");
  EXPECT_EQ(page.messages[1].sender_id, "carol");
  EXPECT_EQ(page.messages[1].content, "");
  EXPECT_EQ(page.messages[1].client_id, "");
}

TYPED_TEST(HistoryStoreTest, EmptyBatchStoresNothing) {
  auto& store = this->store();
  EXPECT_TRUE(store.append({}).empty());
  EXPECT_EQ(store.bounds("a").last_sequence, 0U);
}

TYPED_TEST(HistoryStoreTest, ContentIsKeptByteForByte) {
  auto& store = this->store();
  // Any text but U+0000, which the service refuses before a store sees it
  // (PostgreSQL's text cannot hold it).
  const std::string content = "control \x01\x1f\t\r\n inside ünïcødé \xf0\x9f\x92\xac " + std::string(5000, 'x');
  store.append(std::vector{message("a", "alice", content)});
  const auto page = store.history(query("a", 1));
  ASSERT_EQ(page.messages.size(), 1U);
  EXPECT_EQ(page.messages[0].content, content);
}

TYPED_TEST(HistoryStoreTest, LatestPageIsTheNewestOldestFirst) {
  auto& store = this->store();
  append_many(store, "a", 10);
  append_many(store, "other", 3);

  auto page = store.history(query("a", 4));
  EXPECT_EQ(sequences(page.messages), range(7, 10));
  EXPECT_TRUE(page.has_more);
  EXPECT_EQ(page.messages.front().content, "a-7");

  page = store.history(query("a", 10));
  EXPECT_EQ(sequences(page.messages), range(1, 10));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 1000));
  EXPECT_EQ(sequences(page.messages), range(1, 10));
  EXPECT_FALSE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, BeforePagesBackwards) {
  auto& store = this->store();
  append_many(store, "a", 10);

  auto page = store.history(query("a", 3, /*before=*/7));
  EXPECT_EQ(sequences(page.messages), range(4, 6));
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 3, /*before=*/4));
  EXPECT_EQ(sequences(page.messages), range(1, 3));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, /*before=*/3));
  EXPECT_EQ(sequences(page.messages), range(1, 2));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, /*before=*/1));
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 2, /*before=*/100));  // beyond the newest
  EXPECT_EQ(sequences(page.messages), range(9, 10));
  EXPECT_TRUE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, AfterPagesForwards) {
  auto& store = this->store();
  append_many(store, "a", 10);

  auto page = store.history(query("a", 3, 0, /*after=*/2));
  EXPECT_EQ(sequences(page.messages), range(3, 5));
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 3, 0, /*after=*/7));
  EXPECT_EQ(sequences(page.messages), range(8, 10));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, 0, /*after=*/8));
  EXPECT_EQ(sequences(page.messages), range(9, 10));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, 0, /*after=*/10));
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, 0, /*after=*/~std::uint64_t{0}));
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, MaxBytesEndsAPageEarlyKeepingWhatIsNearestWhereReadingStarted) {
  auto& store = this->store();
  std::vector<NewMessage> batch;
  for (int i = 1; i <= 10; ++i) batch.push_back(message("a", "alice", std::string(1000, 'x')));
  store.append(batch);
  // Each message counts 1000 + 256 bytes: 3000 is full after three.
  auto latest = query("a", 10);
  latest.max_bytes = 3000;
  auto page = store.history(latest);
  EXPECT_EQ(sequences(page.messages), range(8, 10));
  EXPECT_TRUE(page.has_more);
  auto forwards = query("a", 10, 0, /*after=*/0);
  forwards.max_bytes = 3000;
  page = store.history(forwards);
  EXPECT_EQ(sequences(page.messages), range(1, 3));
  EXPECT_TRUE(page.has_more);
  // One message however small the bound: a page always moves the reader on.
  latest.max_bytes = 1;
  page = store.history(latest);
  EXPECT_EQ(sequences(page.messages), range(10, 10));
  EXPECT_TRUE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, AfterZeroPagesForwardsFromTheStart) {
  auto& store = this->store();
  append_alice_and_bob(store, "a", 10);

  auto page = store.history(query("a", 3, 0, /*after=*/0));
  EXPECT_EQ(sequences(page.messages), range(1, 3));
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 10, 0, /*after=*/0));
  EXPECT_EQ(sequences(page.messages), range(1, 10));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, /*before=*/3, /*after=*/0));
  EXPECT_EQ(sequences(page.messages), range(1, 2));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 2, 0, /*after=*/0, "bob"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{2, 4}));
  EXPECT_TRUE(page.has_more);

  // From the oldest one kept.
  store.apply_retention({.max_messages_per_room = 4, .max_age = {}}, 0);
  page = store.history(query("a", 2, 0, /*after=*/0));
  EXPECT_EQ(sequences(page.messages), range(7, 8));
  EXPECT_TRUE(page.has_more);

  EXPECT_TRUE(store.history(query("nowhere", 5, 0, /*after=*/0)).messages.empty());
}

TYPED_TEST(HistoryStoreTest, BeforeAndAfterReadForwardsWithinTheRange) {
  auto& store = this->store();
  append_many(store, "a", 20);

  // Both bounds exclusive; has_more: newer ones left in the range.
  auto page = store.history(query("a", 3, /*before=*/10, /*after=*/4));
  EXPECT_EQ(sequences(page.messages), range(5, 7));
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 5, /*before=*/10, /*after=*/4));
  EXPECT_EQ(sequences(page.messages), range(5, 9));
  EXPECT_FALSE(page.has_more);  // 10 and on are outside the range

  // How a join replays: after = since, before = last + 1, limit = missing.
  page = store.history(query("a", 6, /*before=*/21, /*after=*/14));
  EXPECT_EQ(sequences(page.messages), range(15, 20));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, /*before=*/5, /*after=*/4));
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 5, /*before=*/3, /*after=*/8));
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, SenderFilter) {
  auto& store = this->store();
  append_alice_and_bob(store, "a", 12);  // alice: 1 3 5 7 9 11, bob: 2 4 6 8 10 12
  store.append(std::vector{message("other", "alice", "elsewhere")});

  auto page = store.history(query("a", 4, 0, std::nullopt, "alice"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{5, 7, 9, 11}));
  EXPECT_TRUE(page.has_more);
  for (const auto& m : page.messages) EXPECT_EQ(m.sender_id, "alice");

  page = store.history(query("a", 6, 0, std::nullopt, "bob"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{2, 4, 6, 8, 10, 12}));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 2, /*before=*/6, std::nullopt, "bob"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{2, 4}));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 2, /*before=*/8, std::nullopt, "bob"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{4, 6}));
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 2, 0, /*after=*/6, "alice"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{7, 9}));
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 3, 0, /*after=*/6, "alice"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{7, 9, 11}));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 10, /*before=*/9, /*after=*/2, "alice"));
  EXPECT_EQ(sequences(page.messages), (std::vector<std::uint64_t>{3, 5, 7}));
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 10, 0, std::nullopt, "nobody"));
  EXPECT_TRUE(page.messages.empty());
  EXPECT_FALSE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, LimitOne) {
  auto& store = this->store();
  append_many(store, "a", 3);

  auto page = store.history(query("a", 1));
  EXPECT_EQ(sequences(page.messages), std::vector<std::uint64_t>{3});
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 1, /*before=*/2));
  EXPECT_EQ(sequences(page.messages), std::vector<std::uint64_t>{1});
  EXPECT_FALSE(page.has_more);

  page = store.history(query("a", 1, 0, /*after=*/1));
  EXPECT_EQ(sequences(page.messages), std::vector<std::uint64_t>{2});
  EXPECT_TRUE(page.has_more);

  page = store.history(query("a", 1, 0, /*after=*/2));
  EXPECT_EQ(sequences(page.messages), std::vector<std::uint64_t>{3});
  EXPECT_FALSE(page.has_more);
}

TYPED_TEST(HistoryStoreTest, EmptyAndUnknownRooms) {
  auto& store = this->store();
  append_many(store, "a", 3);
  for (const auto& q : {query("nowhere", 50), query("nowhere", 50, 10), query("nowhere", 50, 0, 1),
                        query("nowhere", 50, 10, 1, "alice"), query("nowhere", 50, 0, 0), query("", 50)}) {
    const auto page = store.history(q);
    EXPECT_TRUE(page.messages.empty());
    EXPECT_FALSE(page.has_more);
  }
  // A room is only its own id: no prefix matches.
  EXPECT_TRUE(store.history(query("a-", 50)).messages.empty());
  EXPECT_TRUE(store.history(query("A", 50)).messages.empty());
}

TYPED_TEST(HistoryStoreTest, Bounds) {
  auto& store = this->store();
  EXPECT_EQ(store.bounds("a").first_sequence, 0U);
  EXPECT_EQ(store.bounds("a").last_sequence, 0U);

  append_many(store, "a", 5);
  append_many(store, "b", 2);
  EXPECT_EQ(store.bounds("a").first_sequence, 1U);
  EXPECT_EQ(store.bounds("a").last_sequence, 5U);
  EXPECT_EQ(store.bounds("b").first_sequence, 1U);
  EXPECT_EQ(store.bounds("b").last_sequence, 2U);

  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 2, .max_age = {}}, 0), 3U);
  EXPECT_EQ(store.bounds("a").first_sequence, 4U);
  EXPECT_EQ(store.bounds("a").last_sequence, 5U);
  EXPECT_EQ(store.bounds("b").first_sequence, 1U);
}

TYPED_TEST(HistoryStoreTest, RetentionByCountKeepsTheNewestOfEachRoom) {
  auto& store = this->store();
  append_many(store, "a", 10);
  append_many(store, "b", 4);
  append_many(store, "c", 3);

  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 4, .max_age = {}}, 0), 6U);
  EXPECT_EQ(sequences(store.history(query("a", 50)).messages), range(7, 10));
  EXPECT_EQ(sequences(store.history(query("b", 50)).messages), range(1, 4));
  EXPECT_EQ(sequences(store.history(query("c", 50)).messages), range(1, 3));
  // Nothing more to do.
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 4, .max_age = {}}, 0), 0U);

  // New messages push the oldest out again; paging still reports has_more
  // only for what is kept.
  append_many(store, "a", 2);
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 4, .max_age = {}}, 0), 2U);
  const auto page = store.history(query("a", 4));
  EXPECT_EQ(sequences(page.messages), range(9, 12));
  EXPECT_FALSE(page.has_more);
  EXPECT_EQ(store.bounds("a").first_sequence, 9U);
}

TYPED_TEST(HistoryStoreTest, RetentionByAge) {
  auto& store = this->store();
  const std::int64_t now = 1'700'000'000'000;
  append_many(store, "a", 3, "alice", now - 120'000);  // 1..3: two minutes old
  append_many(store, "a", 2, "alice", now - 60'000);   // 4..5: exactly a minute old
  append_many(store, "a", 2, "alice", now - 1'000);    // 6..7
  append_many(store, "b", 2, "bob", now - 3'600'000);  // 1..2: an hour old

  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds(3601)}, now), 0U);
  // Older than a minute goes; exactly a minute stays.
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds(60)}, now), 5U);
  EXPECT_EQ(sequences(store.history(query("a", 50)).messages), range(4, 7));
  EXPECT_TRUE(store.history(query("b", 50)).messages.empty());
  EXPECT_EQ(store.bounds("b").first_sequence, 0U);
  EXPECT_EQ(store.bounds("b").last_sequence, 2U);

  // No policy: nothing happens. An absurd age: nothing is that old.
  EXPECT_EQ(store.apply_retention({}, now), 0U);
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds::max()}, now), 0U);
  EXPECT_EQ(store.bounds("a").first_sequence, 4U);
}

TYPED_TEST(HistoryStoreTest, RetentionByCountAndAgeTogether) {
  auto& store = this->store();
  const std::int64_t now = 10'000'000;
  append_many(store, "a", 2, "alice", now - 100'000);  // old
  append_many(store, "a", 6, "alice", now);            // new
  append_many(store, "b", 2, "bob", now - 100'000);    // old, few
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 3, .max_age = std::chrono::seconds(50)}, now), 7U);
  EXPECT_EQ(sequences(store.history(query("a", 50)).messages), range(6, 8));
  EXPECT_TRUE(store.history(query("b", 50)).messages.empty());
}

TYPED_TEST(HistoryStoreTest, SequencesAreNeverReusedAfterEverythingIsDeleted) {
  auto& store = this->store();
  const std::int64_t now = 5'000'000;
  append_many(store, "a", 4, "alice", 0);
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds(1)}, now), 4U);
  EXPECT_EQ(store.bounds("a").first_sequence, 0U);
  EXPECT_EQ(store.bounds("a").last_sequence, 4U);
  EXPECT_TRUE(store.history(query("a", 50)).messages.empty());
  EXPECT_FALSE(store.history(query("a", 50)).has_more);

  EXPECT_EQ(sequences(append_many(store, "a", 2, "alice", now)), range(5, 6));
  EXPECT_EQ(store.bounds("a").first_sequence, 5U);
  EXPECT_EQ(store.bounds("a").last_sequence, 6U);
  EXPECT_EQ(sequences(store.history(query("a", 50)).messages), range(5, 6));

  // By count too: keep 1 of 2, then the next one is 7.
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 1, .max_age = {}}, now), 1U);
  EXPECT_EQ(sequences(append_many(store, "a", 1, "alice", now)), std::vector<std::uint64_t>{7});
}

TYPED_TEST(HistoryStoreTest, FindByClientId) {
  auto& store = this->store();
  store.append(std::vector{message("a", "alice", "first", "id-1", 10), message("a", "bob", "bob's", "id-1", 11),
                           message("b", "alice", "other room", "id-1", 12), message("a", "alice", "second", "id-2"),
                           message("a", "alice", "no id", "")});
  store.append(std::vector{message("a", "alice", "a duplicate id", "id-1")});

  auto found = store.find_by_client_id("a", "alice", "id-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->room_id, "a");
  EXPECT_EQ(found->sequence, 1U);  // the original, not the later duplicate
  EXPECT_EQ(found->sender_id, "alice");
  EXPECT_EQ(found->client_id, "id-1");
  EXPECT_EQ(found->content, "first");
  EXPECT_EQ(found->timestamp_ms, 10);

  found = store.find_by_client_id("a", "bob", "id-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->sequence, 2U);
  found = store.find_by_client_id("b", "alice", "id-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->content, "other room");
  found = store.find_by_client_id("a", "alice", "id-2");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->sequence, 3U);

  EXPECT_FALSE(store.find_by_client_id("a", "alice", "id-3").has_value());
  EXPECT_FALSE(store.find_by_client_id("a", "carol", "id-1").has_value());
  EXPECT_FALSE(store.find_by_client_id("c", "alice", "id-1").has_value());
  EXPECT_FALSE(store.find_by_client_id("a", "alice", "").has_value());  // no id identifies nothing

  // Gone with retention: only the duplicate (sequence 5) is left.
  store.apply_retention({.max_messages_per_room = 1, .max_age = {}}, 0);
  found = store.find_by_client_id("a", "alice", "id-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->sequence, 5U);
  EXPECT_FALSE(store.find_by_client_id("a", "alice", "id-2").has_value());
}

TYPED_TEST(HistoryStoreTest, AResendOfAStoredMessageComesBackAsItAndStoresNothing) {
  auto& store = this->store();
  store.append(std::vector{message("a", "alice", "first try", "id-1")});
  auto resend = message("a", "alice", "first try", "id-1");
  resend.resend = true;
  auto fresh_resend = message("a", "alice", "never stored before", "id-2");
  fresh_resend.resend = true;
  // In one batch: a resend of a stored message, a resend of one never
  // stored (stored now), and a resend of that one (the batch's own).
  const auto stored = store.append(std::vector{resend, fresh_resend, fresh_resend, message("a", "bob", "hi")});
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_TRUE(stored[0].duplicate);
  EXPECT_EQ(stored[0].sequence, 1u);
  EXPECT_FALSE(stored[1].duplicate);
  EXPECT_EQ(stored[1].sequence, 2u);
  EXPECT_TRUE(stored[2].duplicate);
  EXPECT_EQ(stored[2].sequence, 2u);
  EXPECT_FALSE(stored[3].duplicate);
  EXPECT_EQ(stored[3].sequence, 3u);  // no sequence is used by a duplicate
  EXPECT_EQ(sequences(store.history(query("a", 10)).messages), range(1, 3));
  // A message that is not a resend is stored even with an id seen before
  // (the exercise's clients reuse ids).
  EXPECT_EQ(sequences(store.append(std::vector{message("a", "alice", "again", "id-1")})),
            std::vector<std::uint64_t>{4});
  // Another sender's or another room's id is not the same message.
  auto other_sender = message("a", "carol", "x", "id-1");
  other_sender.resend = true;
  auto other_room = message("b", "alice", "x", "id-1");
  other_room.resend = true;
  const auto others = store.append(std::vector{other_sender, other_room});
  EXPECT_FALSE(others[0].duplicate);
  EXPECT_FALSE(others[1].duplicate);
}

TYPED_TEST(HistoryStoreTest, SendersAreDistinctAndOutliveTheirMessages) {
  auto& store = this->store();
  EXPECT_TRUE(store.senders().empty());
  store.append(std::vector{message("a", "alice", "1"), message("a", "bob", "2"), message("b", "alice", "3")});
  store.append(std::vector{message("c", "carol", "4", "", 0)});
  auto senders = store.senders();
  std::sort(senders.begin(), senders.end());
  EXPECT_EQ(senders, (std::vector<std::string>{"alice", "bob", "carol"}));

  // "Distinct senders ever stored": carol stays known after her only
  // message is gone.
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds(1)}, 2000), 1U);
  senders = store.senders();
  std::sort(senders.begin(), senders.end());
  EXPECT_EQ(senders, (std::vector<std::string>{"alice", "bob", "carol"}));
}

TYPED_TEST(HistoryStoreTest, ARoomsSendersAreThoseOfItsMessagesNowSortedAndLimited) {
  auto& store = this->store();
  EXPECT_TRUE(store.room_senders("a", 10).empty());
  store.append(std::vector{message("a", "dave", "1"), message("a", "bob", "2"), message("b", "erin", "3"),
                           message("a", "bob", "4"), message("a", "carol", "5", "", 0)});
  EXPECT_EQ(store.room_senders("a", 10), (std::vector<std::string>{"bob", "carol", "dave"}));
  EXPECT_EQ(store.room_senders("a", 2), (std::vector<std::string>{"bob", "carol"}));
  EXPECT_TRUE(store.room_senders("a", 0).empty());
  EXPECT_EQ(store.room_senders("b", 10), (std::vector<std::string>{"erin"}));
  EXPECT_TRUE(store.room_senders("nobody-here", 10).empty());
  // Of the messages the room holds now: carol's only one is gone.
  EXPECT_EQ(store.apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds(1)}, 2000), 1U);
  EXPECT_EQ(store.room_senders("a", 10), (std::vector<std::string>{"bob", "dave"}));
}

TYPED_TEST(HistoryStoreTest, ConcurrentReadersSeeOnlyWholeGapFreePrefixes) {
  auto& store = this->store();
  constexpr int kBatches = 150;
  constexpr std::uint64_t kBatchSize = 4;
  constexpr int kReaders = 3;
  std::atomic<bool> done{false};
  std::mutex errors_mutex;
  std::vector<std::string> errors;
  const auto report = [&](const std::string& error) {
    std::lock_guard lock(errors_mutex);
    if (errors.size() < 20) errors.push_back(error);
  };
  const auto content = [](std::uint64_t sequence) { return "m" + std::to_string(sequence); };

  std::thread writer([&] {
    try {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<NewMessage> batch;
        const std::uint64_t first = static_cast<std::uint64_t>(b) * kBatchSize + 1;
        for (std::uint64_t i = 0; i < kBatchSize; ++i) batch.push_back(message("r", "w", content(first + i)));
        batch.push_back(message("noise", "w", "other room"));
        const auto stored = store.append(batch);
        if (stored.size() != kBatchSize + 1 || stored.front().sequence != first) report("writer: wrong sequences");
      }
    } catch (const std::exception& e) {
      report(std::string("writer: ") + e.what());
    }
    done = true;
  });

  std::vector<std::thread> readers;
  std::atomic<int> reads{0};
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      std::uint64_t seen = 0;  // what this reader saw last: never goes back
      try {
        for (int i = 0; i < 200'000; ++i) {
          const bool last_round = done;
          const auto bounds = store.bounds("r");
          if (bounds.last_sequence < seen) report("bounds went back");
          if (bounds.last_sequence % kBatchSize != 0) report("bounds show part of a batch");
          if (bounds.first_sequence != (bounds.last_sequence == 0 ? 0 : 1)) report("bounds: wrong first");
          seen = bounds.last_sequence;

          const auto latest = store.history(query("r", 10));
          if (!latest.messages.empty()) {
            const auto last = latest.messages.back().sequence;
            const auto first = latest.messages.front().sequence;
            if (last < seen) report("latest page went back");
            if (last % kBatchSize != 0) report("latest page shows part of a batch");
            if (first != (last > 10 ? last - 9 : 1)) report("latest page: wrong size");
            if (latest.has_more != (first > 1)) report("latest page: wrong has_more");
            for (std::size_t k = 0; k < latest.messages.size(); ++k) {
              if (latest.messages[k].sequence != first + k) report("latest page has a gap");
              if (latest.messages[k].content != content(latest.messages[k].sequence)) report("wrong content");
            }
            seen = last;
          } else if (seen != 0) {
            report("latest page empty after messages were seen");
          }

          if (seen > 1) {
            const std::uint64_t after = seen / 2;
            const auto forwards = store.history(query("r", 7, 0, after));
            if (forwards.messages.empty()) report("forwards page empty");
            for (std::size_t k = 0; k < forwards.messages.size(); ++k) {
              if (forwards.messages[k].sequence != after + 1 + k) report("forwards page has a gap");
            }
            if (forwards.has_more && forwards.messages.size() != 7) report("forwards page: has_more but short");
            if (!forwards.has_more && !forwards.messages.empty() &&
                forwards.messages.back().sequence % kBatchSize != 0) {
              report("forwards page ends inside a batch");
            }
          }
          ++reads;
          if (last_round) break;
        }
      } catch (const std::exception& e) {
        report(std::string("reader: ") + e.what());
      }
    });
  }
  writer.join();
  for (auto& reader : readers) reader.join();

  for (const auto& error : errors) ADD_FAILURE() << error;
  EXPECT_GT(reads.load(), 0);
  EXPECT_EQ(store.bounds("r").last_sequence, kBatches * kBatchSize);
  EXPECT_EQ(store.history(query("r", 1000)).messages.size(), kBatches * kBatchSize);
}

// ---- SQLite only ----------------------------------------------------------

class SqliteStoreTest : public ::testing::Test {
 protected:
  fs::path file() const { return SqliteKind::file(dir_.path()); }
  std::unique_ptr<HistoryStore> open() const { return SqliteKind::open(dir_.path()); }

  ScratchDir dir_;
};

TEST_F(SqliteStoreTest, CreatesTheFileAndItsDirectories) {
  const fs::path path = dir_.path() / "deep" / "er" / "chat.db";
  ASSERT_FALSE(fs::exists(path.parent_path()));
  auto store = open_sqlite_store(path);
  EXPECT_TRUE(fs::is_directory(path.parent_path()));
  EXPECT_TRUE(fs::is_regular_file(path));
  store->append(std::vector{message("a", "alice", "hi")});
  EXPECT_EQ(store->bounds("a").last_sequence, 1U);
}

TEST_F(SqliteStoreTest, UsesWalAndSchemaVersionOne) {
  auto store = open();
  store->append(std::vector{message("a", "alice", "hi")});
  RawDb raw(file());
  EXPECT_EQ(raw.value("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.value("PRAGMA user_version"), "1");
  auto names = raw.column("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name");
  EXPECT_EQ(names,
            (std::vector<std::string>{"messages", "messages_by_client_id", "messages_by_sender", "rooms", "senders"}));
  EXPECT_EQ(raw.value("SELECT last_sequence FROM rooms WHERE room_id = 'a'"), "1");
}

TEST_F(SqliteStoreTest, ReopeningContinuesWhereItStopped) {
  {
    auto store = open();
    append_many(*store, "a", 5, "alice", 1);
    append_many(*store, "gone", 3, "bob", 0);
    store->append(std::vector{message("a", "carol", "with id", "cid", 2)});
    // The two newest of each room; then nothing of "gone" (older).
    EXPECT_EQ(store->apply_retention({.max_messages_per_room = 2, .max_age = {}}, 0), 4U + 1U);
    store->apply_retention({.max_messages_per_room = 0, .max_age = std::chrono::seconds(1)}, 1001);
  }
  auto store = open();
  EXPECT_EQ(sequences(store->history(query("a", 50)).messages), range(5, 6));
  EXPECT_EQ(store->bounds("a").first_sequence, 5U);
  EXPECT_EQ(store->bounds("a").last_sequence, 6U);
  EXPECT_EQ(store->bounds("gone").first_sequence, 0U);
  EXPECT_EQ(store->bounds("gone").last_sequence, 3U);
  ASSERT_TRUE(store->find_by_client_id("a", "carol", "cid").has_value());
  auto senders = store->senders();
  std::sort(senders.begin(), senders.end());
  EXPECT_EQ(senders, (std::vector<std::string>{"alice", "bob", "carol"}));

  EXPECT_EQ(sequences(store->append(
                std::vector{message("a", "alice", "x"), message("gone", "bob", "y"), message("new", "dave", "z")})),
            (std::vector<std::uint64_t>{7, 4, 1}));
}

TEST_F(SqliteStoreTest, OptionsAreChecked) {
  for (const char* bad : {"off", "OFF", "extra", "", "fullest", "2"}) {
    SqliteOptions options;
    options.synchronous = bad;
    EXPECT_THROW(open_sqlite_store(file(), options), StoreError) << bad;
  }
  for (const char* good : {"full", "FULL", "normal", "Normal"}) {
    SqliteOptions options;
    options.synchronous = good;
    EXPECT_NO_THROW(open_sqlite_store(file(), options)) << good;
  }
  SqliteOptions no_readers;
  no_readers.reader_connections = 0;
  EXPECT_THROW(open_sqlite_store(file(), no_readers), StoreError);

  SqliteOptions one_reader;
  one_reader.reader_connections = 1;
  auto store = open_sqlite_store(file(), one_reader);
  store->append(std::vector{message("a", "alice", "hi")});
  EXPECT_EQ(store->history(query("a", 5)).messages.size(), 1U);
}

TEST_F(SqliteStoreTest, UnusablePathsThrowStoreError) {
  // The directory's place is taken by a file.
  std::ofstream(dir_.path() / "plain") << "x";
  EXPECT_THROW(open_sqlite_store(dir_.path() / "plain" / "chat.db"), StoreError);
  // Not a database.
  std::ofstream(dir_.path() / "text.db") << std::string(4096, 'x');
  EXPECT_THROW(open_sqlite_store(dir_.path() / "text.db"), StoreError);
  // A directory.
  EXPECT_THROW(open_sqlite_store(dir_.path()), StoreError);
}

TEST_F(SqliteStoreTest, RefusesANewerSchema) {
  open().reset();
  RawDb(file()).exec("PRAGMA user_version = 2");
  try {
    open();
    FAIL() << "opened a database of a newer schema";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 2"), std::string::npos) << e.what();
  }
}

// A failure in the middle of a batch (here a trigger, installed through a
// connection of the test's own, rejects one message: this works whoever
// runs the test, root included, unlike a read-only file) rolls the whole
// batch back and consumes no sequence, also of rooms first seen in it.
TEST_F(SqliteStoreTest, FailedAppendKeepsNothingAndConsumesNoSequence) {
  auto store = open();
  append_many(*store, "a", 3);
  append_many(*store, "b", 1);

  RawDb raw(file());
  raw.exec(
      "CREATE TRIGGER fail_boom BEFORE INSERT ON messages WHEN NEW.content = 'boom' "
      "BEGIN SELECT RAISE(ABORT, 'injected failure'); END");

  const std::vector<NewMessage> failing{message("a", "alice", "kept?", "c1"), message("new", "newbie", "kept?", "c2"),
                                        message("b", "alice", "kept?", "c3"), message("a", "alice", "boom", "c4")};
  try {
    store->append(failing);
    FAIL() << "the append did not fail";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("injected failure"), std::string::npos) << e.what();
  }

  EXPECT_EQ(sequences(store->history(query("a", 50)).messages), range(1, 3));
  EXPECT_EQ(store->bounds("a").last_sequence, 3U);
  EXPECT_EQ(store->bounds("b").last_sequence, 1U);
  EXPECT_EQ(store->bounds("new").first_sequence, 0U);
  EXPECT_EQ(store->bounds("new").last_sequence, 0U);
  EXPECT_FALSE(store->find_by_client_id("a", "alice", "c1").has_value());
  EXPECT_FALSE(store->find_by_client_id("new", "newbie", "c2").has_value());
  EXPECT_EQ(store->senders(), std::vector<std::string>{"alice"});

  // The same failure twice changes nothing either.
  EXPECT_THROW(store->append(failing), StoreError);

  // The next batch that passes (the trigger still there) gets the
  // sequences the failed ones would have had.
  EXPECT_EQ(sequences(store->append(
                std::vector{message("a", "alice", "x"), message("new", "newbie", "y"), message("b", "alice", "z")})),
            (std::vector<std::uint64_t>{4, 1, 2}));
  raw.exec("DROP TRIGGER fail_boom");
  // And that is what is on disk.
  store.reset();
  store = open();
  EXPECT_EQ(sequences(store->history(query("a", 50)).messages), range(1, 4));
  EXPECT_EQ(store->bounds("new").last_sequence, 1U);
  EXPECT_EQ(sequences(append_many(*store, "b", 1)), std::vector<std::uint64_t>{3});
}

// A constraint failure ends the whole transaction inside SQLite (the rows
// are written many per INSERT, OR ROLLBACK); still nothing is kept and no
// sequence consumed. The clash is a row planted where the next sequence of
// "a" would go, as a second process writing the file could.
TEST_F(SqliteStoreTest, ConstraintFailureInALargeBatchKeepsNothing) {
  auto store = open();
  append_many(*store, "a", 3);
  append_many(*store, "b", 1);
  RawDb(file()).exec("INSERT INTO messages VALUES ('a', 5, 'x', '', 'planted', 0)");

  std::vector<NewMessage> batch;
  for (int i = 0; i < 40; ++i) batch.push_back(message(i % 10 == 3 ? "a" : "b", "zed", "m" + std::to_string(i)));
  try {
    store->append(batch);
    FAIL() << "the append did not fail";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("UNIQUE"), std::string::npos) << e.what();
  }
  EXPECT_EQ(store->bounds("b").last_sequence, 1U);
  EXPECT_EQ(store->bounds("a").last_sequence, 3U);
  EXPECT_EQ(sequences(store->history(query("b", 50)).messages), std::vector<std::uint64_t>{1});
  EXPECT_EQ(store->senders(), std::vector<std::string>{"alice"});
  // No other connection wrote since: the writer's own counters must be right.
  EXPECT_EQ(sequences(store->append(std::vector{message("b", "zed", "ok")})), std::vector<std::uint64_t>{2});
  EXPECT_EQ(sequences(store->append(std::vector{message("a", "zed", "ok")})), std::vector<std::uint64_t>{4});
}

// Another connection holding the write lock makes append wait (busy
// timeout), not fail; reads go on meanwhile.
TEST_F(SqliteStoreTest, AppendWaitsForAnotherWritersLock) {
  auto store = open();
  append_many(*store, "a", 2);

  RawDb raw(file());
  raw.exec("BEGIN EXCLUSIVE");
  auto pending = std::async(std::launch::async, [&] { return append_many(*store, "a", 2); });
  EXPECT_EQ(pending.wait_for(200ms), std::future_status::timeout);
  // A read does not wait for the writer.
  EXPECT_EQ(sequences(store->history(query("a", 50)).messages), range(1, 2));
  raw.exec("COMMIT");
  EXPECT_EQ(sequences(pending.get()), range(3, 4));
  EXPECT_EQ(store->bounds("a").last_sequence, 4U);
}

// Another process appending to the same file: the writer notices (data
// version) and does not hand out sequences it has cached.
TEST_F(SqliteStoreTest, NoticesWritesOfAnotherConnection) {
  auto store = open();
  append_many(*store, "a", 2);
  RawDb raw(file());
  raw.exec(
      "BEGIN; INSERT INTO messages VALUES ('a', 3, 'x', '', 'elsewhere', 0);"
      "UPDATE rooms SET last_sequence = 3 WHERE room_id = 'a'; COMMIT");
  EXPECT_EQ(sequences(append_many(*store, "a", 1)), std::vector<std::uint64_t>{4});
}

// Appends `batches` batches of 20 messages of 400 bytes (a few pages each).
void append_pages(HistoryStore& store, int batches) {
  for (int b = 0; b < batches; ++b) {
    std::vector<NewMessage> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(message("r", "alice", std::string(400, static_cast<char>('a' + i))));
    store.append(batch);
  }
}

std::uintmax_t size_or_zero(const fs::path& file) {
  std::error_code error;
  const auto size = fs::file_size(file, error);
  return error ? 0 : size;
}

TEST_F(SqliteStoreTest, TheWalIsCopiedIntoTheDatabaseInTheBackground) {
  SqliteOptions options;
  options.synchronous = "normal";
  options.background_checkpoint_pages = 8;
  options.writer_checkpoint_pages = 1 << 30;  // the writer never does it here
  auto store = open_sqlite_store(file(), options);
  const auto before = size_or_zero(file());
  append_pages(*store, 20);
  // Only a checkpoint moves rows from the WAL into the database file.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (size_or_zero(file()) <= before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_GT(size_or_zero(file()), before);
  EXPECT_EQ(store->bounds("r").last_sequence, 400U);
}

TEST_F(SqliteStoreTest, TheWriterCheckpointsWhenTheWalReachesItsBound) {
  SqliteOptions options;
  options.synchronous = "normal";
  options.background_checkpoint_pages = 0;  // no help from the background
  options.writer_checkpoint_pages = 32;
  auto store = open_sqlite_store(file(), options);
  fs::path wal = file();
  wal += "-wal";
  std::uintmax_t largest = 0;
  for (int round = 0; round < 40; ++round) {
    append_pages(*store, 5);
    largest = std::max(largest, size_or_zero(wal));
  }
  // Had the WAL never started again it would hold about 2,900 frames (a
  // batch writes a dozen pages, each anew); at the bound, 32 frames and
  // what the batch that crossed it wrote.
  constexpr std::uintmax_t kFrame = 4096 + 24;
  EXPECT_LT(largest, 64 * kFrame);
  EXPECT_EQ(store->bounds("r").last_sequence, 4000U);
  EXPECT_EQ(store->history(query("r", 1000)).messages.size(), 1000U);
}

TEST_F(SqliteStoreTest, LargeBatchIsOneCommit) {
  SqliteOptions options;
  options.synchronous = "full";
  auto store = open_sqlite_store(file(), options);
  std::vector<NewMessage> batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back(message("room-" + std::to_string(i % 3), "user-" + std::to_string(i % 7),
                            std::string(100, static_cast<char>('a' + i % 26)), "id-" + std::to_string(i), i));
  }
  const auto stored = store->append(batch);
  ASSERT_EQ(stored.size(), 1000U);
  EXPECT_EQ(stored[999].room_id, "room-0");
  EXPECT_EQ(stored[999].sequence, 334U);
  EXPECT_EQ(store->bounds("room-1").last_sequence, 333U);
  EXPECT_EQ(store->senders().size(), 7U);
  auto found = store->find_by_client_id("room-2", "user-3", "id-500");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->sequence, 167U);
}

}  // namespace
}  // namespace chat::store
