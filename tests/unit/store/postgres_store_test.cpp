// What only the PostgreSQL store does: migrations, several chat nodes on one
// database, connections that break. Against a real server (the build's test
// server, or a private one for the tests that stop it).
#include "store/history_store.hpp"

#include "support/test_postgres.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace chat::store {
namespace {

using chathost::test::PostgresServer;
using chathost::test::TestDatabase;
using namespace std::chrono_literals;

NewMessage message(std::string room, std::string sender, std::string content, std::string client_id = "") {
  return NewMessage{std::move(room), std::move(sender), std::move(client_id), std::move(content), 1000};
}

std::unique_ptr<HistoryStore> open_node(const std::string& url, const std::string& node) {
  PostgresOptions options;
  options.url = url;
  options.node_id = node;
  options.reader_connections = 2;
  return open_postgres_store(options);
}

std::vector<std::uint64_t> all_sequences(const HistoryStore& store, const std::string& room) {
  HistoryQuery query;
  query.room_id = room;
  query.limit = 1000;
  query.after = 0;
  std::vector<std::uint64_t> sequences;
  for (;;) {
    const auto page = store.history(query);
    for (const auto& m : page.messages) sequences.push_back(m.sequence);
    if (!page.has_more || page.messages.empty()) break;
    query.after = page.messages.back().sequence;
  }
  return sequences;
}

TEST(PostgresStore, MigratesAnEmptyDatabaseOnceAndReopensIt) {
  TestDatabase database;
  open_node(database.url(), "a")->append(std::vector{message("r", "alice", "hi")});
  auto again = open_node(database.url(), "b");
  EXPECT_EQ(database.query("SELECT count(*) FROM chat_schema_migrations"), "2");
  EXPECT_EQ(again->bounds("r").last_sequence, 1u);
}

TEST(PostgresStore, RefusesADatabaseThatANewerChatHostMigratedAndWritesNothing) {
  TestDatabase database;
  database.query("CREATE TABLE chat_schema_migrations (version int PRIMARY KEY, applied_at timestamptz)");
  database.query("INSERT INTO chat_schema_migrations VALUES (99, now())");
  try {
    open_node(database.url(), "a");
    FAIL() << "opened a database of schema version 99";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("schema version 99, newer than this chat-host's"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(database.query("SELECT to_regclass('messages') IS NULL"), "t");
  EXPECT_EQ(database.query("SELECT count(*) FROM chat_schema_migrations"), "1");
}

TEST(PostgresStore, ErrorsNeverShowThePassword) {
  const auto& server = PostgresServer::shared();
  const std::string password = "not-the-password-0123456789";
  const std::string url = "postgresql://chat:" + password + "@127.0.0.1:" + std::to_string(server.port()) + "/chat";
  try {
    open_node(url, "a");
    FAIL() << "logged in with a wrong password";
  } catch (const StoreError& e) {
    EXPECT_EQ(std::string(e.what()).find(password), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos) << e.what();
  }
}

TEST(PostgresStore, TwoNodesCommittingToOneRoomAtOnceMakeOneGapFreeOrder) {
  TestDatabase database;
  auto a = open_node(database.url(), "a");
  auto b = open_node(database.url(), "b");
  constexpr int kBatches = 150;
  // Each node's batches span two rooms in both orders, so their locks cross.
  const auto send = [](HistoryStore& store, const std::string& node, std::vector<std::uint64_t>& seen) {
    for (int i = 0; i < kBatches; ++i) {
      std::vector<NewMessage> batch;
      for (int k = 0; k < 3; ++k) batch.push_back(message("shared", node, node + std::to_string(i)));
      batch.push_back(message(i % 2 == 0 ? "x" : "y", node, "side"));
      batch.push_back(message(i % 2 == 0 ? "y" : "x", node, "side"));
      for (const auto& stored : store.append(batch)) {
        if (stored.room_id == "shared") seen.push_back(stored.sequence);
      }
    }
  };
  std::vector<std::uint64_t> seen_a;
  std::vector<std::uint64_t> seen_b;
  std::thread node_a([&] { send(*a, "a", seen_a); });
  std::thread node_b([&] { send(*b, "b", seen_b); });
  node_a.join();
  node_b.join();

  // Each node's own messages come back strictly increasing...
  EXPECT_TRUE(std::is_sorted(seen_a.begin(), seen_a.end()));
  EXPECT_TRUE(std::is_sorted(seen_b.begin(), seen_b.end()));
  // ...and together they are 1..N, each once: no gap, no number twice.
  std::set<std::uint64_t> all(seen_a.begin(), seen_a.end());
  all.insert(seen_b.begin(), seen_b.end());
  constexpr std::uint64_t total = 2 * kBatches * 3;
  EXPECT_EQ(all.size(), total);
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), total);
  const auto stored = all_sequences(*a, "shared");
  EXPECT_EQ(stored.size(), total);
  EXPECT_EQ(all_sequences(*b, "x").size(), static_cast<std::size_t>(2 * kBatches));
  // Both nodes read the same history.
  EXPECT_EQ(all_sequences(*b, "shared"), stored);
}

TEST(PostgresStore, AResendThroughAnotherNodeFindsTheMessageInsteadOfStoringItTwice) {
  TestDatabase database;
  auto a = open_node(database.url(), "a");
  auto b = open_node(database.url(), "b");
  const auto first = a->append(std::vector{message("r", "alice", "hello", "m-1")});
  auto resend = message("r", "alice", "hello", "m-1");
  resend.resend = true;
  const auto again = b->append(std::vector{resend});
  ASSERT_EQ(again.size(), 1u);
  EXPECT_TRUE(again[0].duplicate);
  EXPECT_EQ(again[0].sequence, first[0].sequence);
  EXPECT_EQ(all_sequences(*b, "r").size(), 1u);
}

TEST(PostgresStore, ALostConnectionFailsOneCallAndTheNextConnectsAgain) {
  TestDatabase database;
  auto store = open_node(database.url(), "cut");
  store->append(std::vector{message("r", "alice", "before")});
  // The server ends every session of this node, as a restart or a network
  // cut would.
  database.query("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE "
                 "'chat-host cut %'");
  // Nothing was sent on the dead connection: the store connects again and
  // the batch is stored, once, in order; reads connect again too.
  const auto stored = store->append(std::vector{message("r", "alice", "after")});
  EXPECT_EQ(stored[0].sequence, 2u);
  EXPECT_EQ(all_sequences(*store, "r"), (std::vector<std::uint64_t>{1, 2}));
}

TEST(PostgresStore, AServerThatRestartsIsUsedAgainWithoutReopeningTheStore) {
  auto server = PostgresServer::start_private();
  auto store = open_node(server->url(), "restart");
  store->append(std::vector{message("r", "alice", "one")});
  server->kill();
  EXPECT_THROW(store->append(std::vector{message("r", "alice", "refused while down")}), StoreError);
  EXPECT_THROW(store->bounds("r"), StoreError);
  server->start();
  std::vector<StoredMessage> stored;
  for (int attempt = 0; attempt < 20 && stored.empty(); ++attempt) {
    try {
      stored = store->append(std::vector{message("r", "alice", "two")});
    } catch (const StoreError&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  }
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].sequence, 2u);
  EXPECT_EQ(all_sequences(*store, "r"), (std::vector<std::uint64_t>{1, 2}));
}

// Notification channels belong to a whole database: two deployments in two
// schemas of one database must not hear each other's commits or presence.
TEST(PostgresStore, DeploymentsInTwoSchemasOfOneDatabaseHearOnlyTheirOwnNodes) {
  TestDatabase ours;
  TestDatabase theirs;
  auto a = open_node(ours.url(), "a");
  auto b = open_node(ours.url(), "b");
  auto c = open_node(theirs.url(), "c");
  auto d = open_node(theirs.url(), "d");

  std::mutex mutex;
  std::condition_variable heard_changed;
  std::vector<std::string> heard;  // what node a heard, in order
  CommitWatcher watcher;
  watcher.committed_elsewhere = [&](const std::string& room) {
    std::lock_guard lock(mutex);
    heard.push_back("commit " + room);
    heard_changed.notify_all();
  };
  watcher.presence_elsewhere = [&](const std::string& room, const std::string& user, const std::string&, bool) {
    std::lock_guard lock(mutex);
    heard.push_back("presence " + room + " " + user);
    heard_changed.notify_all();
  };
  a->watch(watcher);
  const auto wait_for = [&](const std::string& what, std::chrono::milliseconds patience = 15s) {
    std::unique_lock lock(mutex);
    return heard_changed.wait_for(lock, patience,
                                  [&] { return std::find(heard.begin(), heard.end(), what) != heard.end(); });
  };
  // The listener starts listening in the background: it is up once it
  // hears its own deployment.
  bool listening = false;
  for (int i = 0; i < 75 && !listening; ++i) {
    b->append(std::vector{message("warm-up", "b", "hello")});
    listening = wait_for("commit warm-up", 200ms);
  }
  ASSERT_TRUE(listening);

  // The other deployment commits and announces presence first (its
  // presence row is visible to its other node: committed with its NOTIFY)...
  c->append(std::vector{message("theirs", "c", "hello")});
  c->set_present("theirs", "carol", true);
  for (int i = 0; i < 300 && d->present_elsewhere("theirs").empty(); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(d->present_elsewhere("theirs").size(), 1u);
  // ...then ours: notifications arrive in commit order, so once node a has
  // heard ours it would have heard theirs before.
  b->append(std::vector{message("ours", "b", "hello")});
  b->set_present("ours", "bob", true);
  ASSERT_TRUE(wait_for("commit ours"));
  ASSERT_TRUE(wait_for("presence ours bob"));
  a->stop_watching();
  std::lock_guard lock(mutex);
  EXPECT_EQ(std::count(heard.begin(), heard.end(), "commit theirs"), 0);
  EXPECT_EQ(std::count(heard.begin(), heard.end(), "presence theirs carol"), 0);
}

}  // namespace
}  // namespace chat::store
