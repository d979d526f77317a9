// What clients send, checked and routed: each frame's shape, who the
// connection is (the user fixed by ?user=, its first join or its first
// message), the rooms its token opens and its room limit; then the room's
// upstream link. A refusal goes back to the client as an error frame naming
// what it refused, and the connection lives on. It works on RoutedClient,
// not on WsSession: tests drive it without sockets.
#pragma once

#include "client.hpp"
#include "handshake.hpp"
#include "proxy_options.hpp"
#include "upstream_link.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace chat::proxy {

class FrameRouter {
 public:
  // `links`: the streams to the chat service, each room on one (by hash).
  // `announced_available`: whether clients were last told the service is up.
  FrameRouter(const ProxyOptions& options, const std::vector<std::unique_ptr<UpstreamLink>>& links,
              std::function<bool()> announced_available);

  // A new connection: its token's rooms, and what ?user= and ?room= say.
  void opened(const RoutedClientPtr& client, const UpgradeTarget& target);
  // The connection ended: it leaves its rooms.
  void closed(RoutedClient& client);
  // One text frame from the client. On its session's thread.
  void on_text(const RoutedClientPtr& client, std::string_view text);

 private:
  UpstreamLink& link_for(const std::string& room) const;
  void on_chat_message(const RoutedClientPtr& client, ChatMessage& message);
  void on_join(const RoutedClientPtr& client, Join& join);
  void on_leave(RoutedClient& client, Leave& leave);
  void on_typing(RoutedClient& client, Typing& typing);

  const ProxyOptions& options_;
  const std::vector<std::unique_ptr<UpstreamLink>>& links_;
  std::function<bool()> announced_available_;
};

}  // namespace chat::proxy
