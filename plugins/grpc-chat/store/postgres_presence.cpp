#include "store/postgres_presence.hpp"

#include "store/postgres_connection.hpp"

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

namespace chat::store::pg {
namespace {

const Statement kRenewLease{"renew_lease",
                            "INSERT INTO chat_nodes (node_id, lease_until) VALUES ($1, now() + $2::interval)"
                            " ON CONFLICT (node_id) DO UPDATE SET lease_until = excluded.lease_until"};
const Statement kAdd{"add_presence", "INSERT INTO presence (room_id, user_id, node_id) VALUES ($1, $2, $3)"
                                     " ON CONFLICT DO NOTHING"};
const Statement kRemove{"remove_presence", "DELETE FROM presence WHERE room_id = $1 AND user_id = $2 AND node_id = $3"};
const Statement kNotify{"notify_presence", "SELECT pg_notify($1, $2)"};  // channel (kPresenceChannel's), payload
// This node's rows from before (a previous run, or before the database
// went away): gone, each announced as left; what it has now is written again.
const Statement kForgetOwn{"forget_own",
                           "WITH gone AS (DELETE FROM presence WHERE node_id = $1 RETURNING room_id, user_id, node_id)"
                           " SELECT room_id, user_id FROM gone"};
// Nodes whose lease ran out died: their users leave, announced to all.
const Statement kExpire{
    "expire_nodes",
    "WITH dead AS (DELETE FROM chat_nodes WHERE lease_until < now() RETURNING node_id),"
    " gone AS (DELETE FROM presence p USING dead WHERE p.node_id = dead.node_id"
    " RETURNING p.room_id, p.user_id, p.node_id)"
    " SELECT count(pg_notify($1, 'L:' || octet_length(node_id) || ':' || octet_length(room_id) || ':' ||"
    " node_id || room_id || user_id)) FROM gone"};

}  // namespace

std::string presence_payload(PresenceKind kind, const std::string& node, const std::string& room,
                             const std::string& user) {
  return std::string(1, static_cast<char>(kind)) + ":" + std::to_string(node.size()) + ":" + std::to_string(room.size()) + ":" +
         node + room + user;
}

std::optional<PresenceNews> parse_presence_payload(const std::string& payload) {
  if (payload.size() < 2 || payload[1] != ':' || std::string_view("JLTS").find(payload[0]) == std::string_view::npos) {
    return std::nullopt;
  }
  const auto colon1 = payload.find(':', 2);
  if (colon1 == std::string::npos) return std::nullopt;
  const auto colon2 = payload.find(':', colon1 + 1);
  if (colon2 == std::string::npos) return std::nullopt;
  std::size_t node_bytes = 0;
  std::size_t room_bytes = 0;
  try {
    node_bytes = std::stoul(payload.substr(2, colon1 - 2));
    room_bytes = std::stoul(payload.substr(colon1 + 1, colon2 - colon1 - 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::size_t start = colon2 + 1;
  if (payload.size() < start + node_bytes + room_bytes) return std::nullopt;
  return PresenceNews{static_cast<PresenceKind>(payload[0]), payload.substr(start, node_bytes), payload.substr(start + node_bytes, room_bytes),
                      payload.substr(start + node_bytes + room_bytes)};
}

PresenceKeeper::PresenceKeeper(std::string url, std::string node_id, std::chrono::seconds lease)
    : url_(std::move(url)), node_id_(std::move(node_id)), lease_(lease), thread_([this] { run(); }) {}

PresenceKeeper::~PresenceKeeper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void PresenceKeeper::joined(const std::string& room, const std::string& user) {
  {
    std::lock_guard lock(mutex_);
    present_.emplace(room, user);
    changes_.push_back(Change{PresenceKind::Joined, room, user});
  }
  wake_.notify_one();
}

void PresenceKeeper::left(const std::string& room, const std::string& user) {
  {
    std::lock_guard lock(mutex_);
    present_.erase({room, user});
    changes_.push_back(Change{PresenceKind::Left, room, user});
  }
  wake_.notify_one();
}

void PresenceKeeper::typing(const std::string& room, const std::string& user, bool stopped) {
  {
    std::lock_guard lock(mutex_);
    changes_.push_back(Change{stopped ? PresenceKind::Stopped : PresenceKind::Typing, room, user});
  }
  wake_.notify_one();
}

void PresenceKeeper::run() {
  std::optional<Connection> db;
  const auto every = std::max<std::chrono::milliseconds>(lease_ / 3, std::chrono::milliseconds(500));
  const std::string lease_text = std::to_string(lease_.count()) + " seconds";
  auto next_tick = std::chrono::steady_clock::now();
  for (;;) {
    std::vector<Change> batch;
    std::set<std::pair<std::string, std::string>> present;
    bool tick = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_tick, [this] { return stopping_ || !changes_.empty(); });
      if (stopping_) return;
      batch.assign(std::make_move_iterator(changes_.begin()), std::make_move_iterator(changes_.end()));
      changes_.clear();
      tick = std::chrono::steady_clock::now() >= next_tick;
      if (!db || db->broken()) present = present_;  // written anew on a new connection
    }
    try {
      if (!db || db->broken()) {
        db.emplace(url_, "chat-host " + node_id_ + " presence",
                   std::vector<Statement>{kRenewLease, kAdd, kRemove, kNotify, kForgetOwn, kExpire});
        // Everything is written from `present`: the queued changes are in it.
        batch.clear();
        db->exec("BEGIN", "starting to write this node's presence");
        db->run(kRenewLease, Params().add(node_id_).add(lease_text), "taking this node's lease");
        Result gone = db->run(kForgetOwn, Params().add(node_id_), "forgetting this node's old presence");
        for (int row = 0; row < PQntuples(gone.get()); ++row) {
          std::string room = text(gone.get(), row, 0);
          std::string user = text(gone.get(), row, 1);
          if (present.contains({room, user})) continue;
          db->run(kNotify, Params().add(db->channel(kPresenceChannel)).add(presence_payload(PresenceKind::Left, node_id_, room, user)),
                  "announcing a leave");
        }
        for (const auto& [room, user] : present) batch.push_back(Change{PresenceKind::Joined, room, user});
      } else {
        db->exec("BEGIN", "starting to write presence");
      }
      for (const Change& change : batch) {
        if (change.kind == PresenceKind::Joined || change.kind == PresenceKind::Left) {
          db->run(change.kind == PresenceKind::Joined ? kAdd : kRemove,
                  Params().add(change.room).add(change.user).add(node_id_), "writing presence");
        }
        db->run(kNotify,
                Params().add(db->channel(kPresenceChannel)).add(presence_payload(change.kind, node_id_, change.room,
                                                                                 change.user)),
                "announcing presence");
      }
      if (tick) {
        db->run(kRenewLease, Params().add(node_id_).add(lease_text), "renewing this node's lease");
        db->run(kExpire, Params().add(db->channel(kPresenceChannel)), "ending the presence of nodes that died");
      }
      db->exec("COMMIT", "committing presence");
    } catch (const StoreError&) {
      // The database is away: what this node has is written anew once it
      // answers (the connection is opened again then).
      if (db && !db->broken()) {
        Result rollback(PQexec(db->get(), "ROLLBACK"));
        db.reset();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    if (tick) next_tick = std::chrono::steady_clock::now() + every;
  }
}

}  // namespace chat::store::pg
