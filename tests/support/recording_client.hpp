// A ws-proxy Client (plugins/ws-proxy/client.hpp) that keeps what it is
// sent, for unit tests of what the proxy hands each client. Header only:
// include it in a test linked with ws_proxy_core.
#pragma once

#include "client.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace chat::test {

class RecordingClient final : public chat::proxy::Client {
 public:
  RecordingClient(std::uint64_t id, chat::ClientKind kind) : id_(id), kind_(kind) {}
  std::uint64_t id() const override { return id_; }
  void send(chat::proxy::Frame frame) override {
    frames.push_back(std::move(frame));
    if (on_send) on_send(frames.back());
  }
  chat::ClientKind kind() const override { return kind_; }

  std::vector<chat::proxy::Frame> frames;
  std::function<void(const chat::proxy::Frame&)> on_send;  // optional, after the frame is kept

 private:
  std::uint64_t id_;
  chat::ClientKind kind_;
};

}  // namespace chat::test
