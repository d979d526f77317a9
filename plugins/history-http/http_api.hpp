// The routes of history-http, and what every response carries:
//
//   GET /history       a page of a room's history, from the chat service;
//                      with a bearer token when token authentication is on
//   GET /history/senders  who wrote in a room, sorted (for a "From" filter);
//                      with a token as /history
//   GET /healthz       200 when the chat service answers its health check
//   GET /metrics       every plugin's metrics, Prometheus text format
//   GET /config.json   the public URLs the served page talks to
//   GET /, /<file>     the web client and its assets, from the web root
//   OPTIONS            CORS preflight
//
// HEAD is answered like GET, without the body. docs/http-api.md is the
// reference for clients.
#pragma once

#include "cors_policy.hpp"
#include "history_budget.hpp"
#include "recent_history.hpp"
#include "http_metrics.hpp"
#include "http_types.hpp"
#include "web_root.hpp"

#include "auth/jwt.hpp"
#include "auth/request_auth.hpp"

#include "chat.pb.h"

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chat::history_http {

class ChatUpstream;

// Keys of history-http's table fill most of these (ConfigKey::into in
// history_http_plugin.cpp, with their defaults).
struct ApiSettings {
  CorsPolicy cors;
  std::chrono::seconds cors_max_age{};
  // Empty: derived per request from its Host header (see public_urls()).
  std::string public_ws_url;
  std::string public_history_url;
  std::uint16_t ws_port = 0;
  // history-http serves https:// (tls_cert_file): the derived URLs are
  // https:// and wss:// (a page loaded over https may not open ws://).
  bool tls = false;
  // Sent as Retry-After with a 503 (the chat service is unreachable).
  std::chrono::seconds retry_after{2};
  // Set: /history wants a valid bearer token (auth_secret_file); the page,
  // /config.json, /healthz and /metrics stay open. nullptr: no tokens.
  std::shared_ptr<const chat::auth::TokenVerifier> token_verifier;
  // Host header names (without port, lowercase) that /config.json may build
  // URLs from; another Host gets the address the request came in on.
  std::vector<std::string> allowed_hosts;
  // Which routes this listener serves: the main one everything (without
  // /metrics when metrics have a listener of their own), the metrics
  // listener /metrics and /healthz only.
  bool serve_metrics = true;
  bool metrics_only = false;
  // What history answers may hold at once (history_budget.hpp); page_bytes
  // is also the most one answer carries (fewer messages, has_more: true).
  HistoryBudget::Limits history;
  // Set: the newest pages of rooms are answered from this never-stale copy
  // when it can vouch for them (recent_history.hpp). nullptr: every page is
  // read from the chat service.
  std::shared_ptr<RecentHistory> recent_history;
};

// Why a request's head cannot be served, found as soon as it is read and
// before any body: a Transfer-Encoding (no route takes a body that needs
// one, and one beside Content-Length is how requests are smuggled past a
// front proxy), or HTTP/1.1 without Host. nullopt: fine.
std::optional<std::string> refuse_head(const http::request_header<>& head);

// The Content-Security-Policy of a page: its own origin, the WebSocket and
// history origins it talks to (`connect`), the inline scripts and styles of
// `page` by their SHA-256, no framing.
std::string content_security_policy(const StaticFile& page, const std::vector<std::string>& connect);

class HttpApi {
 public:
  HttpApi(ApiSettings settings, ChatUpstream& upstream, const WebRoot& web_root, HttpMetrics& metrics,
          std::shared_ptr<chathost::Metrics> registry, std::shared_ptr<spdlog::logger> log);
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Answers one request: `reply` runs exactly once, now or later, on any
  // thread. `local`: the address the request came in on (for /config.json
  // when the request has no usable Host header).
  void handle(Request request, const tcp::endpoint& local, Reply reply) const;

  // The answer to a request that could not be read (431, 413, 400); the
  // connection closes after it. Counted under the route "other".
  Response refuse_unreadable(http::status status, std::string_view why) const;

 private:
  class Exchange;

  // The answer to a request whose token authenticate_request() refused.
  Response refusal_for(const Request& request, const chat::auth::RequestAuth& auth) const;
  // `granted`: the rooms the request's token opens (every room without tokens).
  void serve_history(std::string_view query, const chat::auth::RoomGrant& granted,
                     const std::shared_ptr<Exchange>& exchange) const;
  // The page from the chat service, under `lease`.
  void read_history(const chat::GetChatHistoryRequest& request, std::shared_ptr<HistoryBudget::Lease> lease,
                    const std::shared_ptr<Exchange>& exchange) const;
  void serve_senders(std::string_view query, const chat::auth::RoomGrant& granted,
                     const std::shared_ptr<Exchange>& exchange) const;
  // Starts a call to the chat service once the budget has room for it (the
  // lease goes with the answer), or tells the client history is busy.
  void when_budget_allows(std::string_view call, const std::shared_ptr<Exchange>& exchange,
                          HistoryBudget::Start start) const;
  void call_failed(std::string_view call, const grpc::Status& status, HistoryBudget::Lease& lease,
                   const std::shared_ptr<Exchange>& exchange) const;
  void serve_health(const std::shared_ptr<Exchange>& exchange) const;
  void serve_metrics(const std::shared_ptr<Exchange>& exchange) const;
  void serve_config(const Request& request, const tcp::endpoint& local,
                    const std::shared_ptr<Exchange>& exchange) const;
  void serve_file(const Request& request, const tcp::endpoint& local, std::string_view path,
                  const std::shared_ptr<Exchange>& exchange) const;
  void serve_preflight(const Request& request, const std::shared_ptr<Exchange>& exchange) const;
  // The URLs the page talks to, as /config.json gives them.
  struct PublicUrls {
    std::string ws_url;
    std::string history_url;
  };
  PublicUrls public_urls(const Request& request, const tcp::endpoint& local) const;

  const ApiSettings settings_;
  std::shared_ptr<HistoryBudget> history_budget_;
  ChatUpstream& upstream_;
  const WebRoot& web_root_;
  HttpMetrics& metrics_;
  std::shared_ptr<chathost::Metrics> registry_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace chat::history_http
