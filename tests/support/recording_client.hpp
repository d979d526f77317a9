// A ws-proxy Client (plugins/ws-proxy/client.hpp) that keeps what it is
// sent, for unit tests of what the proxy hands each client; and a
// RecordingMember, a RoutedClient with its chat state, for tests of what the
// proxy does with what a client sends. Header only: include it in a test
// linked with ws_proxy_core.
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

class RecordingMember final : public chat::proxy::RoutedClient {
 public:
  explicit RecordingMember(std::uint64_t id) : id_(id) {}
  std::uint64_t id() const override { return id_; }
  void send(chat::proxy::Frame frame) override { frames.push_back(std::move(frame)); }
  chat::ClientKind kind() const override { return kind_; }
  chat::proxy::ClientState& chat_state() override { return state; }
  void set_full_protocol() override { kind_ = chat::ClientKind::full_protocol; }

  std::vector<chat::proxy::Frame> frames;
  chat::proxy::ClientState state;

 private:
  std::uint64_t id_;
  chat::ClientKind kind_ = chat::ClientKind::messages_only;
};

}  // namespace chat::test
