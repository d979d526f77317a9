#include "bridge.hpp"

#include "ws_session.hpp"

#include "tls/grpc_credentials.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>

namespace chat::proxy {
namespace {

// How often each chat node is asked whether it serves, when there are several.
constexpr std::chrono::milliseconds kNodeHealthPeriod{1000};

std::shared_ptr<grpc::Channel> make_channel(const ProxyOptions& options, std::size_t index, const std::string& node) {
  grpc::ChannelArguments args;
  // gRPC's own connection backoff, within the configured bounds.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(options.reconnect_min.count()));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, static_cast<int>(options.reconnect_min.count()));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(options.reconnect_max.count()));
  // One TCP connection per stream, so streams do not share one transport.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("chat.ws_proxy.stream", static_cast<int>(index));
  return chat::tls::make_chat_channel(node, options.chat_tls, args);
}

// Stream `index`'s channel to each chat node.
std::vector<std::shared_ptr<grpc::Channel>> make_channels(const ProxyOptions& options, std::size_t index) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto& node : options.chat_nodes) channels.push_back(make_channel(options, index, node));
  return channels;
}

// The health checks' own channel to each node (a stream's channel carries
// its stream only).
std::unique_ptr<chat::net::ChatNodeHealth> make_node_health(const ProxyOptions& options,
                                                            std::shared_ptr<spdlog::logger> log,
                                                            chat::net::ChatNodeHealth::Changed changed) {
  if (options.chat_nodes.size() < 2) return nullptr;  // nothing to choose from
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (const auto& node : options.chat_nodes) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(kNodeHealthPeriod.count()));
    channels.push_back(chat::tls::make_chat_channel(node, options.chat_tls, args));
  }
  return std::make_unique<chat::net::ChatNodeHealth>(std::move(channels), options.chat_nodes, kNodeHealthPeriod,
                                                     std::move(log), std::move(changed));
}

std::vector<boost::asio::any_io_executor> executors(IoShards& shards) {
  std::vector<boost::asio::any_io_executor> all;
  for (std::size_t i = 0; i < shards.size(); ++i) all.emplace_back(shards.at(i).get_executor());
  return all;
}

}  // namespace

Bridge::Bridge(const ProxyOptions& options, IoShards& shards, std::shared_ptr<spdlog::logger> log,
               ProxyMetrics metrics)
    : options_(options),
      log_(std::move(log)),
      metrics_(metrics),
      fanout_(executors(shards)),
      sessions_(fanout_, metrics_, log_),
      router_(options_, links_, [this] { return sessions_.announced_available(); }) {
  node_health_ = make_node_health(options_, log_, [this](std::size_t node, bool serving) {
    if (serving) return;
    for (auto& link : links_) link->leave_node(node);
  });
  for (std::size_t i = 0; i < options_.upstream_streams; ++i) {
    links_.push_back(std::make_unique<UpstreamLink>(i, make_channels(options_, i), node_health_.get(), fanout_,
                                                    shards.at(0).get_executor(), options_, log_,
                                                    [this] { link_status_changed(); }));
  }
}

Bridge::~Bridge() = default;

void Bridge::start() {
  if (node_health_) node_health_->start();
  for (auto& link : links_) link->start();
}

bool Bridge::available() const {
  return std::all_of(links_.begin(), links_.end(), [](const auto& link) { return link->available(); });
}

bool Bridge::wait_available(std::chrono::milliseconds timeout) { return sessions_.wait_available(timeout); }

void Bridge::link_status_changed() {
  const bool now = sessions_.announce([this] { return available(); });
  // Only now, with every client told, do the streams that came back re-join
  // their rooms: what a client missed arrives after the news that the
  // service is back, never before (also when streams return one by one).
  if (now) {
    for (auto& link : links_) link->resume();
  }
}

void Bridge::opened(const std::shared_ptr<WsSession>& session, const UpgradeTarget& target) {
  sessions_.add(session);
  router_.opened(session, target);
}

void Bridge::closed(WsSession& session) {
  router_.closed(session);
  sessions_.remove(session.id());
}

void Bridge::on_text(const std::shared_ptr<WsSession>& session, std::string_view text) { router_.on_text(session, text); }

void Bridge::close_sessions(std::chrono::milliseconds timeout) { sessions_.close_all(timeout); }

void Bridge::stop_links(std::chrono::milliseconds timeout) {
  // First: no link is told to move while it stops.
  if (node_health_) node_health_->stop();
  for (auto& link : links_) {
    if (!link->stop(timeout)) {
      // Its call may still report to it: never destroy it.
      log_->error("stream {} to the chat service did not end within {} ms", link->index(), timeout.count());
      static_cast<void>(link.release());
    }
  }
}

}  // namespace chat::proxy
