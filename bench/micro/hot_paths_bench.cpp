// Micro-benchmarks (Google Benchmark) of the hot paths a chat message takes:
// a WebSocket text frame decoded into a ChatStream, a ChatStream encoded to
// the JSON every recipient gets, the gRPC wire encoding grpc-chat writes
// once per stream, the store commit that precedes every ack, and ws-proxy's
// fan-out of one message to the members of a room.
//
//   build/release/bin/chat-micro-bench [--benchmark_filter=Store]
#include "chat_json.hpp"
#include "local_room.hpp"
#include "store/history_store.hpp"

#include "chat.pb.h"

#include <benchmark/benchmark.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

// The exercise's frame with a 100-byte message, as chat-load sends it.
const std::string kFrame = R"({"chat_message":{"id":"m123456","room_id":"room-7","sender_id":"client-42","content":")" +
                           std::string(100, 'x') + R"("}})";

chat::ChatStream stored_event() {
  chat::ChatStream event;
  auto* message = event.mutable_chat_message();
  message->set_id("m123456");
  message->set_room_id("room-7");
  message->set_sender_id("client-42");
  message->set_content(std::string(100, 'x'));
  message->set_sequence(123456);
  message->mutable_timestamp()->set_seconds(1795658270);
  message->mutable_timestamp()->set_nanos(344000000);
  message->set_server_id("room-7:123456");
  return event;
}

void FrameDecode(benchmark::State& state) {
  chat::ChatStream frame;
  for (auto _ : state) {
    frame.Clear();
    auto error = chat::json::decode(kFrame, frame);
    benchmark::DoNotOptimize(error);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kFrame.size()));
}
BENCHMARK(FrameDecode);

// protobuf's own parser, which decode falls back to: the yardstick.
void FrameDecodeProtobuf(benchmark::State& state) {
  chat::ChatStream frame;
  for (auto _ : state) {
    auto error = chat::json::reference::decode(kFrame, frame);
    benchmark::DoNotOptimize(error);
  }
}
BENCHMARK(FrameDecodeProtobuf);

void JsonEncode(benchmark::State& state) {
  const auto event = stored_event();
  for (auto _ : state) {
    auto text = chat::json::encode(event);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(JsonEncode);

void JsonEncodeProtobuf(benchmark::State& state) {
  const auto event = stored_event();
  for (auto _ : state) {
    auto text = chat::json::reference::encode(event);
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(JsonEncodeProtobuf);

void ProtoSerialize(benchmark::State& state) {
  const auto event = stored_event();
  std::string out;
  for (auto _ : state) {
    out.clear();
    event.SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(ProtoSerialize);

// One commit of a batch of `range(0)` messages into a SQLite store; the
// second argument: 0 = synchronous "normal", 1 = "full" (one fsync per commit).
void StoreCommit(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("chat-micro-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    chat::store::SqliteOptions options;
    options.synchronous = state.range(1) == 1 ? "full" : "normal";
    auto store = chat::store::open_sqlite_store(dir / "chat.db", options);
    std::vector<chat::store::NewMessage> batch(static_cast<std::size_t>(state.range(0)));
    std::int64_t n = 0;
    for (auto _ : state) {
      for (auto& m : batch) {
        m = {"room-" + std::to_string(n % 10), "client-42", "m" + std::to_string(n), std::string(100, 'x'), n};
        ++n;
      }
      auto stored = store->append(batch);
      benchmark::DoNotOptimize(stored);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(StoreCommit)->ArgsProduct({{1, 64, 512}, {0, 1}})->ArgNames({"batch", "full_sync"})->UseRealTime();

// A member as ws-proxy's fan-out sees it: send() queues the shared frame
// under the session's lock, as WsSession::send does, without the post of the
// write (that, and the socket write, belong to the end-to-end benchmarks).
class QueueingClient final : public chat::proxy::Client {
 public:
  explicit QueueingClient(std::uint64_t id) : id_(id) {}
  std::uint64_t id() const override { return id_; }
  void send(chat::proxy::Frame frame) override {
    std::lock_guard lock(mutex_);
    outbox_.push_back(std::move(frame));
    if (outbox_.size() == 64) outbox_.clear();  // as a write taking a batch
  }
  chat::ClientKind kind() const override { return chat::ClientKind::messages_only; }

 private:
  const std::uint64_t id_;
  std::mutex mutex_;
  std::vector<chat::proxy::Frame> outbox_;
};

// One stored message from the chat service to every live member of a room of
// `range(0)`: its JSON frame built once, then shared with each member.
void FanOut(benchmark::State& state) {
  const chat::proxy::Fanout inline_fanout;  // no shards: queued on this thread
  chat::proxy::LocalRoom room(inline_fanout);
  const auto members = static_cast<std::uint64_t>(state.range(0));
  for (std::uint64_t id = 1; id <= members; ++id) {
    room.set_live(*room.add(std::make_shared<QueueingClient>(id), "client-" + std::to_string(id)).first, true);
  }
  chat::ChatStream event = stored_event();
  std::uint64_t sequence = 1;
  for (auto _ : state) {
    event.mutable_chat_message()->set_sequence(sequence++);
    room.deliver(event.chat_message(), chat::proxy::make_frame(event));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * members));  // deliveries
}
BENCHMARK(FanOut)->Arg(100)->Arg(1000)->ArgName("members");

}  // namespace

BENCHMARK_MAIN();
