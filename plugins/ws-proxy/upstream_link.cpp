// UpstreamLink, its own side: the call's life (connect, reconnect to a node
// that serves, re-join with `since`). What sessions ask of it (join, leave,
// send a message, typing) is in upstream_link_requests.cpp; what the chat
// service answers, in upstream_link_events.cpp.
#include "upstream_link.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <random>

namespace chat::proxy {
namespace {

ChatStream join_frame(const std::string& room, const std::string& user, std::optional<std::uint64_t> since) {
  ChatStream frame;
  Join* join = frame.mutable_join();
  join->set_room_id(room);
  join->set_user_id(user);
  if (since) join->set_since(*since);
  return frame;
}

std::chrono::milliseconds jittered(std::chrono::milliseconds delay) {
  thread_local std::minstd_rand random{std::random_device{}()};
  std::uniform_real_distribution<double> factor(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * factor(random)));
}

}  // namespace

UpstreamLink::UpstreamLink(std::size_t index, std::vector<std::shared_ptr<grpc::Channel>> channels,
                           const chat::net::ChatNodeHealth* health, const Fanout& fanout,
                           boost::asio::any_io_executor executor, const ProxyOptions& options,
                           std::shared_ptr<spdlog::logger> log, std::function<void()> status_changed)
    : index_(index),
      channels_(std::move(channels)),
      health_(health),
      fanout_(fanout),
      options_(options),
      log_(std::move(log)),
      status_changed_(std::move(status_changed)),
      executor_(executor),
      reconnect_timer_(std::move(executor)) {
  for (const auto& channel : channels_) stubs_.push_back(std::make_unique<ChatStreamStub>(channel));
  // The links start spread over the nodes.
  node_ = index_ % channels_.size();
}

UpstreamLink::~UpstreamLink() = default;

void UpstreamLink::start() {
  std::lock_guard lock(mutex_);
  start_call_locked();
}

bool UpstreamLink::stop(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  state_ = State::Stopped;
  reconnect_timer_.cancel();
  if (call_ != nullptr) call_->cancel();
  if (ready_check_) ready_check_->cancel();
  const bool done = calls_changed_.wait_for(lock, timeout, [this] { return calls_alive_ == 0; });
  // Nothing will be delivered any more: let the sessions go.
  rooms_.clear();
  pending_.clear();
  join_requests_.clear();
  answer_.reset();
  return done;
}

bool UpstreamLink::available() const {
  std::lock_guard lock(mutex_);
  return state_ == State::Connected || state_ == State::Available;
}

void UpstreamLink::resume() {
  std::lock_guard lock(mutex_);
  if (state_ != State::Connected) return;
  state_ = State::Available;
  if (!rooms_.empty()) log_->info("stream {} to the chat service: re-joining {} rooms", index_, rooms_.size());
  rejoin_locked();
}

// ---------------------------------------------------------------------------
// The call and its lifecycle

void UpstreamLink::leave_node(std::size_t node) {
  std::lock_guard lock(mutex_);
  if (node_ != node || call_ == nullptr || state_ == State::Stopped) return;
  if (health_ == nullptr || !health_->another_serves(node)) return;  // nowhere better to go
  log_->info("stream {} leaves chat node {}, which does not serve", index_, options_.chat_nodes[node]);
  // Ends like a broken stream (on_ended, on_done): the next call goes to a
  // node that serves and re-joins with `since`.
  call_->cancel();
}

void UpstreamLink::start_call_locked() {
  state_ = State::Connecting;
  if (health_ != nullptr) node_ = health_->pick(node_);
  call_ = new ChatCall(*stubs_[node_], *this, options_.chat_tls.service_token);
  ++calls_alive_;
  call_accepted_ = node_serves_ = false;
  checks_failed_ = 0;
  call_->start();
  // Started off the lock: a check's answer may come at once.
  boost::asio::post(executor_, [this, number = ++call_number_] { check_ready(number); });
}

void UpstreamLink::check_ready(std::uint64_t call_number) {
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::Connecting || call_ == nullptr || call_number != call_number_) return;
    channel = channels_[node_];
    ++calls_alive_;
  }
  auto check = chat::net::ChatServiceCheck::start(
      channel, options_.reconnect_max, [this, call_number](bool serving, const std::string& why) {
        on_ready_check(call_number, serving, why);
      });
  std::lock_guard lock(mutex_);
  ready_check_ = std::move(check);
  if (state_ == State::Stopped) ready_check_->cancel();
}

void UpstreamLink::on_ready_check(std::uint64_t call_number, bool serving, const std::string& why) {
  bool became_available = false;
  {
    std::lock_guard lock(mutex_);
    --calls_alive_;
    calls_changed_.notify_all();
    if (state_ != State::Connecting || call_ == nullptr || call_number != call_number_) return;
    node_serves_ = serving;
    if (serving) {
      became_available = maybe_ready_locked();
    } else {
      // Once per call at warn: a node that answers but does not serve
      // (draining, its store down, or no chat service at all) is named.
      const auto level = checks_failed_++ == 0 ? spdlog::level::warn : spdlog::level::debug;
      log_->log(level, "stream {}: chat node {} does not serve ({}); asking again", index_, options_.chat_nodes[node_],
                why);
      schedule_ready_check_locked();
    }
  }
  if (became_available) status_changed_();
}

void UpstreamLink::on_accepted(ChatCall& call) {
  bool became_available = false;
  {
    std::lock_guard lock(mutex_);
    if (call_ != &call || state_ != State::Connecting) return;
    call_accepted_ = true;
    became_available = maybe_ready_locked();
  }
  if (became_available) status_changed_();
}

bool UpstreamLink::maybe_ready_locked() {
  if (!call_accepted_ || !node_serves_) return false;
  became_available_locked();
  return true;
}

std::chrono::milliseconds UpstreamLink::next_backoff_locked() {
  const auto base = options_.reconnect_min * (1U << std::min(attempt_, 16U));
  ++attempt_;
  return jittered(std::min<std::chrono::milliseconds>(base, options_.reconnect_max));
}

void UpstreamLink::schedule_ready_check_locked() {
  reconnect_timer_.expires_after(next_backoff_locked());
  reconnect_timer_.async_wait([this, number = call_number_](boost::system::error_code ec) {
    if (!ec) check_ready(number);
  });
}

void UpstreamLink::schedule_reconnect_locked() {
  reconnect_timer_.expires_after(next_backoff_locked());
  reconnect_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    std::lock_guard lock(mutex_);
    if (state_ == State::Stopped || call_ != nullptr) return;
    start_call_locked();
  });
}

void UpstreamLink::became_available_locked() {
  state_ = State::Connected;
  attempt_ = 0;
  if (ever_available_) {
    log_->info("stream {} to the chat service is back", index_);
  } else {
    log_->debug("stream {} to the chat service is up", index_);
  }
  ever_available_ = true;
}

void UpstreamLink::rejoin_locked() {
  for (auto& [room_id, room] : rooms_) {
    if (room.has_live_member()) {
      // One join with `since` replays the gap to every live member; the other
      // users of the room only need their membership back.
      bool first = true;
      for (const auto& [user, connections] : room.users()) {
        std::optional<std::uint64_t> since;
        if (first) since = room.last_sequence;
        send_join_locked(JoinRequest{room_id, user, 0, false}, since);
        first = false;
      }
    }
    room.for_each_member([&, &room_id = room_id](std::uint64_t client_id, Membership& member) {
      if (member.live()) return;
      send_join_locked(JoinRequest{room_id, member.user, client_id, member.answer}, member.since);
      member.join_sent = true;
    });
  }
}

void UpstreamLink::send_join_locked(const JoinRequest& request, std::optional<std::uint64_t> since) {
  if (write_locked(join_frame(request.room, request.user, since))) join_requests_.push_back(request);
}

bool UpstreamLink::write_locked(ChatStream frame) {
  if (call_ == nullptr) return false;
  return call_->write(std::move(frame));
}

void UpstreamLink::on_ended(ChatCall& call) {
  bool was_available = false;
  {
    std::lock_guard lock(mutex_);
    if (call_ != &call) return;
    call_ = nullptr;
    was_available = state_ == State::Connected || state_ == State::Available;
    if (state_ != State::Stopped) state_ = State::Connecting;
    // Nothing sent on this call will be answered now: say so.
    for (auto& [key, queue] : pending_) {
      for (auto& pending : queue) {
        auto client = pending.client.lock();
        if (!client) continue;
        Error error = about(make_error(Error::UNAVAILABLE,
                                       "not confirmed: the connection to the chat service was lost; the message "
                                       "may have been stored (send it again with resend=true to be sure)"),
                            "chat_message", std::get<0>(key), std::get<1>(key));
        error.set_id(pending.client_message_id);
        fanout_.send(client, make_error_frame(error));
      }
    }
    pending_.clear();
    join_requests_.clear();
    answer_.reset();
    for (auto& [room_id, room] : rooms_) {
      room.forget_echo_ids();
      room.for_each_member([](std::uint64_t, Membership& member) {
        if (!member.live()) member.join_sent = false;
      });
    }
  }
  if (was_available) status_changed_();
}

void UpstreamLink::on_done(const grpc::Status& status) {
  std::lock_guard lock(mutex_);
  --calls_alive_;
  if (state_ != State::Stopped) {
    const std::string& node = options_.chat_nodes[node_];
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE || status.error_code() == grpc::StatusCode::CANCELLED) {
      log_->warn("stream {} to the chat service at {} ended ({}); reconnecting", index_, node, status.error_message());
    } else {
      log_->warn("stream {} to the chat service at {} ended with {} ({}); reconnecting", index_, node,
                 static_cast<int>(status.error_code()), status.error_message());
    }
    // The node is gone, draining or refusing: the next attempt goes to the
    // next one that serves (all nodes share the rooms). A link that was working tries
    // after reconnect_min (its backoff starts over once it works).
    node_ = (node_ + 1) % channels_.size();
    if (health_ != nullptr) node_ = health_->pick(node_);
    schedule_reconnect_locked();
  }
  calls_changed_.notify_all();
}

}  // namespace chat::proxy
