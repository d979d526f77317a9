#include "message_committer.hpp"

#include "frame_validation.hpp"

#include <google/protobuf/util/time_util.h>

#include <chrono>

namespace chat::service {
namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Event ack_event(const store::StoredMessage& stored, bool duplicate) {
  return encode_scratch([&stored, duplicate](ChatStream& frame) {
    auto* ack = frame.mutable_ack();
    std::string server_id = server_id_of(stored);
    // The client's id for it, as its echo carries (to_proto), or the server's.
    ack->set_id(stored.client_id.empty() ? server_id : stored.client_id);
    ack->set_room_id(stored.room_id);
    ack->set_sequence(stored.sequence);
    *ack->mutable_timestamp() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(stored.timestamp_ms);
    ack->set_server_id(std::move(server_id));
    ack->set_duplicate(duplicate);
    ack->set_sender_id(stored.sender_id);
  });
}

}  // namespace

MessageCommitter::MessageCommitter(store::HistoryStore& store, RoomRegistry& rooms, std::size_t max_batch,
                                   std::shared_ptr<spdlog::logger> log, CommitMetrics metrics,
                                   std::function<void(bool)> store_answers)
    : store_(store),
      rooms_(rooms),
      max_batch_(max_batch),
      log_(std::move(log)),
      metrics_(metrics),
      store_answers_(std::move(store_answers)),
      thread_([this] { run(); }) {}

MessageCommitter::~MessageCommitter() { stop(); }

bool MessageCommitter::submit(const SessionPtr& sender, ChatMessage message) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    sender->commit_started();
    queue_.push_back(Pending{sender, std::move(message)});
  }
  wake_.notify_one();
  return true;
}

void MessageCommitter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

CommitStats MessageCommitter::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void MessageCommitter::run() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (store_failing_) {
        if (!wake_.wait_for(lock, std::chrono::seconds(1), ready)) {
          lock.unlock();
          probe_failing_store();
          continue;
        }
      } else {
        wake_.wait(lock, ready);
      }
      if (queue_.empty()) return;  // stopping, and everything submitted is committed
      // Whatever queued while the previous batch was syncing goes in this one.
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit(batch);
    batch.clear();
  }
}

void MessageCommitter::commit(std::vector<Pending>& batch) {
  std::vector<store::NewMessage> messages;
  messages.reserve(batch.size());
  const std::int64_t timestamp = now_ms();
  for (auto& pending : batch) {
    ChatMessage& m = pending.message;
    // The content moves to the store: a refusal names the message by its ids only.
    messages.push_back(
        store::NewMessage{m.room_id(), m.sender_id(), m.id(), std::move(*m.mutable_content()), timestamp, m.resend()});
  }

  std::vector<store::StoredMessage> stored;
  const auto append_started = std::chrono::steady_clock::now();
  try {
    stored = store_.append(messages);
    metrics_.commit_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - append_started).count());
    store_works();
  } catch (const store::StoreError& e) {
    // Nothing of the batch is kept and no sequence is used: every message of
    // it is refused, none acknowledged.
    const bool unavailable = dynamic_cast<const store::StoreUnavailable*>(&e) != nullptr;
    metrics_.failures.inc();
    store_failed(e, batch.size(), unavailable);
    for (const Pending& pending : batch) refuse(pending, unavailable);
    // A shared store's commit may have happened though the answer was lost:
    // its rooms read the store once it answers, so members still get it.
    if (store_.shared()) {
      for (const Pending& pending : batch) rooms_.maybe_behind(pending.message.room_id());
    }
    {
      std::lock_guard lock(mutex_);
      stats_.failed += batch.size();
    }
    for (auto& pending : batch) pending.sender->commit_done();
    return;
  }

  std::size_t added = 0;
  // Each stream gets what this batch brings it in one write.
  const StreamSession::Cork cork;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const SessionPtr& sender = batch[i].sender;
    if (stored[i].duplicate) {
      // A resend of a stored message is answered from the store, not delivered again.
      if (sender->speaks_full_protocol()) sender->send(ack_event(stored[i], true));
      continue;
    }
    ++added;
    if (sender->speaks_full_protocol()) {
      rooms_.deliver(stored[i], sender, ack_event(stored[i], false));
    } else {
      rooms_.deliver(stored[i]);
    }
  }
  metrics_.stored.inc(added);
  {
    std::lock_guard lock(mutex_);
    stats_.committed += added;
    ++stats_.batches;
  }
  for (auto& pending : batch) pending.sender->commit_done();
}

void MessageCommitter::refuse(const Pending& pending, bool unavailable) {
  auto error = unavailable ? make_error(Error::UNAVAILABLE,
                                        "not sent: the chat store cannot be reached just now; send it again",
                                        "chat_message")
                           : make_error(Error::STORE_FAILED, "not sent: the message could not be stored", "chat_message");
  error.set_id(pending.message.id());
  error.set_room_id(pending.message.room_id());
  error.set_user_id(pending.message.sender_id());
  pending.sender->send(encode(error_event(std::move(error))));
}

void MessageCommitter::store_failed(const store::StoreError& error, std::size_t refused, bool unavailable) {
  refused_while_failing_ += refused;
  if (store_failing_) {
    log_->debug("store still failing, {} more messages refused: {}", refused, error.what());
    return;
  }
  store_failing_ = true;
  if (unavailable) {
    log_->error("the store cannot be reached; refusing messages (not serving) until it answers: {}", error.what());
    if (store_answers_) store_answers_(false);
  } else {
    log_->error("the store cannot write; refusing messages until it can: {}", error.what());
  }
}

void MessageCommitter::store_works() {
  if (!store_failing_) return;
  log_->info("the store writes again; {} messages were refused meanwhile", refused_while_failing_);
  store_failing_ = false;
  refused_while_failing_ = 0;
  if (store_answers_) store_answers_(true);
}

void MessageCommitter::probe_failing_store() {
  const auto answers = store_.answers();
  if (!answers) return;  // only a commit tells
  if (*answers) {
    store_works();
  } else if (store_answers_) {
    store_answers_(false);  // a store that failed to write, found unreachable since
  }
}

}  // namespace chat::service
