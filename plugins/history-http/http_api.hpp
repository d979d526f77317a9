// The routes of history-http, and what every response carries:
//
//   GET /history       a page of a room's history, from the chat service;
//                      with a bearer token when token authentication is on
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
#include "http_metrics.hpp"
#include "http_types.hpp"
#include "web_root.hpp"

#include "auth/jwt.hpp"

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace chat::history_http {

class ChatUpstream;

struct ApiSettings {
  CorsPolicy cors;
  std::chrono::seconds cors_max_age{600};
  // Empty: derived per request from its Host header (see public_urls()).
  std::string public_ws_url;
  std::string public_history_url;
  std::uint16_t ws_port = 8080;
  // history-http serves https:// (tls_cert_file): the derived URLs are
  // https:// and wss:// (a page loaded over https may not open ws://).
  bool tls = false;
  // Sent as Retry-After with a 503 (the chat service is unreachable).
  std::chrono::seconds retry_after{2};
  // Set: /history wants a valid bearer token (auth_secret_file); the page,
  // /config.json, /healthz and /metrics stay open. nullptr: no tokens.
  std::shared_ptr<const chat::auth::TokenVerifier> token_verifier;
};

class HttpApi {
 public:
  HttpApi(ApiSettings settings, ChatUpstream& upstream, const WebRoot& web_root, HttpMetrics& metrics,
          std::shared_ptr<chathost::Metrics> registry, std::shared_ptr<spdlog::logger> log);

  // Answers one request: `reply` runs exactly once, now or later, on any
  // thread. `local`: the address the request came in on (for /config.json
  // when the request has no usable Host header).
  void handle(Request request, const tcp::endpoint& local, Reply reply) const;

  // The answer to a request that could not be read (431, 413, 400); the
  // connection closes after it. Counted under the route "other".
  Response refuse_unreadable(http::status status, std::string_view why) const;

 private:
  class Exchange;

  // The refusal of a request to a route that wants a token, when it has no
  // valid one; nullopt when it may go on (or tokens are off).
  std::optional<Response> refuse_without_token(const Request& request) const;
  void serve_history(std::string_view query, const std::shared_ptr<Exchange>& exchange) const;
  void serve_health(const std::shared_ptr<Exchange>& exchange) const;
  void serve_metrics(const std::shared_ptr<Exchange>& exchange) const;
  void serve_config(const Request& request, const tcp::endpoint& local,
                    const std::shared_ptr<Exchange>& exchange) const;
  void serve_file(const Request& request, std::string_view path, const std::shared_ptr<Exchange>& exchange) const;
  void serve_preflight(const Request& request, const std::shared_ptr<Exchange>& exchange) const;

  const ApiSettings settings_;
  ChatUpstream& upstream_;
  const WebRoot& web_root_;
  HttpMetrics& metrics_;
  std::shared_ptr<chathost::Metrics> registry_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace chat::history_http
