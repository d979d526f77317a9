#include "store/postgres_listener.hpp"

#include "store/postgres_connection.hpp"
#include "store/postgres_presence.hpp"

#include <poll.h>

#include <chrono>
#include <optional>
#include <set>

namespace chat::store::pg {
namespace {

using namespace std::chrono_literals;

// How often the thread looks at its stop flag while nothing arrives, and
// how long it waits between attempts to connect again.
constexpr int kPollMs = 200;
constexpr auto kReconnectEvery = 1s;

}  // namespace

CommitListener::CommitListener(std::string url, std::string node_id, CommitWatcher watcher)
    : url_(std::move(url)), node_id_(std::move(node_id)), watcher_(std::move(watcher)), thread_([this] { run(); }) {}

CommitListener::~CommitListener() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void CommitListener::run() {
  std::optional<Connection> db;
  bool reported_down = false;
  auto last_attempt = std::chrono::steady_clock::time_point{};
  bool first = true;
  auto last_tick = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (watcher_.tick && std::chrono::steady_clock::now() - last_tick >= 1s) {
      last_tick = std::chrono::steady_clock::now();
      watcher_.tick();
    }
    if (!db || db->broken()) {
      if (std::chrono::steady_clock::now() - last_attempt < kReconnectEvery) {
        poll(nullptr, 0, kPollMs);
        continue;
      }
      last_attempt = std::chrono::steady_clock::now();
      try {
        db.emplace(url_, "chat-host " + node_id_ + " listen", std::vector<Statement>{});
        // The channels' names are lower-case letters, digits and _: no quoting.
        db->exec(("LISTEN " + db->channel(kCommitChannel)).c_str(), "listening for other nodes' commits");
        db->exec(("LISTEN " + db->channel(kPresenceChannel)).c_str(), "listening for other nodes' presence");
      } catch (const StoreError& e) {
        db.reset();
        if (!reported_down && watcher_.listening_changed) watcher_.listening_changed(e.what());
        reported_down = true;
        continue;
      }
      if (reported_down && watcher_.listening_changed) watcher_.listening_changed("");
      reported_down = false;
      // What was committed while nobody listened (or before this node
      // started listening) is in the table: read it.
      if (!first && watcher_.catch_up) watcher_.catch_up();
      first = false;
    }

    pollfd socket{PQsocket(db->get()), POLLIN, 0};
    if (poll(&socket, 1, kPollMs) <= 0) continue;
    if (PQconsumeInput(db->get()) != 1 || db->broken()) {
      if (watcher_.listening_changed) watcher_.listening_changed("the listening connection broke: " + db->describe());
      reported_down = true;
      db.reset();
      continue;
    }
    // Coalesce: a burst of commits to one room is one read.
    std::set<std::string> rooms;
    const std::string presence_channel = db->channel(kPresenceChannel);
    while (PGnotify* notify = PQnotifies(db->get())) {
      const std::string payload = notify->extra == nullptr ? "" : notify->extra;
      const bool presence = notify->relname != nullptr && notify->relname == presence_channel;
      PQfreemem(notify);
      if (presence) {
        // In order, as they come: a join and a leave of one user must not swap.
        const auto news = parse_presence_payload(payload);
        if (!news || news->node == node_id_) continue;
        if (news->kind == PresenceKind::Typing || news->kind == PresenceKind::Stopped) {
          if (watcher_.typing_elsewhere) {
            watcher_.typing_elsewhere(news->room, news->user, news->kind == PresenceKind::Stopped);
          }
        } else if (watcher_.presence_elsewhere) {
          watcher_.presence_elsewhere(news->room, news->user, news->node, news->kind == PresenceKind::Joined);
        }
        continue;
      }
      const auto newline = payload.find('\n');
      if (newline == std::string::npos) continue;
      if (payload.compare(0, newline, node_id_) == 0 && newline == node_id_.size()) continue;  // our own commit
      rooms.insert(payload.substr(newline + 1));
    }
    if (watcher_.committed_elsewhere) {
      for (const auto& room : rooms) watcher_.committed_elsewhere(room);
    }
  }
}

}  // namespace chat::store::pg
