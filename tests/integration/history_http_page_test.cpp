// history-http as a browser meets it, through real host processes and a
// real HTTP client: CORS, the page and its files, /config.json, kept-alive
// and slow connections and their limits, and the curl commands of
// docs/http-api.md run as they are written.
#include "chat.grpc.pb.h"    // from chat_proto
#include "chat_json.hpp"     // from chat_proto
#include "health.grpc.pb.h"  // from chat_proto
#include "auth/jwt.hpp"       // from chat_auth
#include "support/chat_stream_client.hpp"
#include "support/garbage_grpc_server.hpp"
#include "support/host_process.hpp"
#include "support/host_variables.hpp"
#include "support/history_hosts.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

namespace chathost::test {
namespace {

// ---------------------------------------------------------------------------
// CORS

void expect_cors_allowed(const Response& response, const std::string& origin, const std::string& what) {
  EXPECT_EQ(header(response, http::field::access_control_allow_origin), origin) << what;
  EXPECT_EQ(header(response, http::field::vary), "Origin") << what;
  EXPECT_EQ(header(response, http::field::access_control_expose_headers), "ETag, Retry-After, WWW-Authenticate")
      << what;
}

void expect_cors_refused(const Response& response, const std::string& what) {
  EXPECT_FALSE(has_header(response, http::field::access_control_allow_origin)) << what;
  EXPECT_EQ(header(response, http::field::vary), "Origin") << what;
}

Headers preflight_headers(const std::string& origin) {
  return {{"Origin", origin}, {"Access-Control-Request-Method", "GET"},
          {"Access-Control-Request-Headers", "content-type"}};
}

void expect_preflight_allowed(std::uint16_t port, const std::string& origin) {
  auto response = request(port, http::verb::options, "/history?room=a", preflight_headers(origin));
  EXPECT_EQ(response.result_int(), 204U) << origin;
  EXPECT_EQ(header(response, http::field::access_control_allow_origin), origin);
  EXPECT_EQ(header(response, http::field::access_control_allow_methods), "GET, HEAD, OPTIONS");
  EXPECT_EQ(header(response, http::field::access_control_allow_headers), "Authorization, Content-Type, If-None-Match");
  EXPECT_EQ(header(response, http::field::access_control_max_age), "600");
  EXPECT_EQ(header(response, http::field::vary),
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  EXPECT_TRUE(response.body().empty());
}

void expect_preflight_refused(std::uint16_t port, const std::string& origin) {
  auto response = request(port, http::verb::options, "/history?room=a", preflight_headers(origin));
  EXPECT_EQ(response.result_int(), 403U) << origin;
  EXPECT_FALSE(has_header(response, http::field::access_control_allow_origin)) << origin;
  EXPECT_FALSE(has_header(response, http::field::access_control_allow_methods)) << origin;
  EXPECT_EQ(body_json(response).at("error").as_string(), "origin not allowed");
}

TEST_F(HistoryHttpTest, CorsAllowsExactlyTheListedOriginsAndNullWhenListed) {
  auto http = http_host(dir_.path(), {.extra_config = R"(allowed_origins = ["https://chat.example.org", "null"])"});
  const auto port = http->port("history-http");

  for (const std::string origin : {"https://chat.example.org", "null"}) {
    expect_cors_allowed(get(port, "/config.json", {{"Origin", origin}}), origin, "config " + origin);
    // Errors too, so the page can show them: a 400, and a 503 (no chat service here).
    expect_cors_allowed(get(port, "/history?room=a&limit=0", {{"Origin", origin}}), origin, "400 " + origin);
    auto unavailable = get(port, "/history?room=a", {{"Origin", origin}});
    EXPECT_EQ(unavailable.result_int(), 503U);
    expect_cors_allowed(unavailable, origin, "503 " + origin);
    expect_preflight_allowed(port, origin);
  }

  for (const std::string origin : {"https://evil.example", "https://chat.example.org.evil.example",
                                   "http://chat.example.org", "https://chat.example.org:8443",
                                   "https://CHAT.example.org", "https://chat.example.org/", "*"}) {
    auto response = get(port, "/config.json", {{"Origin", origin}});
    EXPECT_EQ(response.result_int(), 200U) << origin;  // answered, but the browser keeps it from the page
    expect_cors_refused(response, origin);
    expect_preflight_refused(port, origin);
  }

  // Same-origin and non-browser requests send no Origin: no CORS headers.
  expect_cors_refused(get(port, "/config.json"), "no origin");
  // OPTIONS without Access-Control-Request-Method is no preflight.
  auto options = request(port, http::verb::options, "/history", {{"Origin", "https://evil.example"}});
  EXPECT_EQ(options.result_int(), 204U);
  EXPECT_EQ(header(options, http::field::allow), "GET, HEAD, OPTIONS");
  EXPECT_FALSE(has_header(options, http::field::access_control_allow_origin));
}

TEST_F(HistoryHttpTest, CorsRefusesFilePagesUnlessNullIsListed) {
  auto http = http_host(dir_.path(), {.extra_config = R"(allowed_origins = ["https://chat.example.org"])"});
  expect_cors_refused(get(http->port("history-http"), "/config.json", {{"Origin", "null"}}), "null");
  expect_preflight_refused(http->port("history-http"), "null");
  expect_cors_allowed(get(http->port("history-http"), "/config.json", {{"Origin", "https://chat.example.org"}}),
                      "https://chat.example.org", "listed");
}

TEST_F(HistoryHttpTest, CorsWildcardAllowsEveryOriginAndNull) {
  // The development setting of config/chat.toml, given here by the environment.
  auto http = http_host(dir_.path(), {.env = {{"HTTP_ALLOWED_ORIGINS", "*"}}});
  for (const std::string origin : {"https://anything.example", "http://localhost:3000", "null"}) {
    expect_cors_allowed(get(http->port("history-http"), "/config.json", {{"Origin", origin}}), origin, origin);
    expect_preflight_allowed(http->port("history-http"), origin);
  }
}

TEST_F(HistoryHttpTest, ABadConfigurationStopsTheHostBeforeItListens) {
  for (const std::string& bad : {std::string(R"(allowed_origins = ["https://chat.example.org/"])"),
                                 std::string(R"(allowed_origins = ["chat.example.org"])"),
                                 std::string(R"(public_ws_url = "http://not-a-websocket")"),
                                 std::string(R"(host = "not an address")")}) {
    const auto host =
        start_on_bad_config(dir_.path(), "[host]\nplugins = [\"history-http\"]\n\n[history-http]\nport = 0\n" + bad + "\n");
    EXPECT_EQ(host->wait_exit(), 1) << bad;
    const auto key = bad.substr(0, bad.find(' '));
    EXPECT_NE(host->output().find("[history-http] " + key + ":"), std::string::npos) << host->output();
    EXPECT_EQ(host->output().find("ready in"), std::string::npos) << host->output();
  }
}

// ---------------------------------------------------------------------------
// The page and its files

TEST_F(HistoryHttpTest, ServesThePageAndItsAssetsWithTheirContentTypes) {
  auto http = http_host(dir_.path(), {});
  const auto port = http->port("history-http");
  const std::vector<std::tuple<std::string, std::string, std::string>> files{
      {"/", "text/html; charset=utf-8", "web/client.html"},
      {"/client.html", "text/html; charset=utf-8", "web/client.html"},
      {"/assets/app.js", "text/javascript; charset=utf-8", "web/assets/app.js"},
      {"/assets/app.js?v=2", "text/javascript; charset=utf-8", "web/assets/app.js"},
      {"/assets/style.css", "text/css; charset=utf-8", "web/assets/style.css"},
      {"/logo.svg", "image/svg+xml", "web/logo.svg"},
      {"/notes.txt", "text/plain; charset=utf-8", "web/notes.txt"},
      {"/data.bin", "application/octet-stream", "web/data.bin"},
      {"/%61ssets/app.js", "text/javascript; charset=utf-8", "web/assets/app.js"},  // encoded 'a'
  };
  for (const auto& [target, type, file] : files) {
    auto response = get(port, target);
    EXPECT_EQ(response.result_int(), 200U) << target;
    EXPECT_EQ(header(response, http::field::content_type), type) << target;
    EXPECT_EQ(response.body(), read_file(dir_ / file)) << target;
    EXPECT_EQ(header(response, "X-Content-Type-Options"), "nosniff") << target;
    EXPECT_EQ(header(response, http::field::cache_control), "no-cache") << target;
  }
  auto config = get(port, "/config.json");
  EXPECT_EQ(header(config, http::field::content_type), "application/json");

  auto head = request(port, http::verb::head, "/");
  EXPECT_EQ(head.result_int(), 200U);
  EXPECT_TRUE(head.body().empty());
  EXPECT_EQ(header(head, http::field::content_length), std::to_string(read_file(dir_ / "web/client.html").size()));
  EXPECT_EQ(header(head, http::field::content_type), "text/html; charset=utf-8");
}

TEST_F(HistoryHttpTest, IfNoneMatchWithTheETagGets304) {
  auto http = http_host(dir_.path(), {});
  const auto port = http->port("history-http");
  auto first = get(port, "/");
  ASSERT_EQ(first.result_int(), 200U);
  const auto etag = header(first, http::field::etag);
  ASSERT_TRUE(std::regex_match(etag, std::regex(R"("[0-9a-f]+-[0-9a-f]+")"))) << etag;
  EXPECT_EQ(header(get(port, "/client.html"), http::field::etag), etag);  // same file, same tag
  EXPECT_NE(header(get(port, "/notes.txt"), http::field::etag), etag);

  for (const std::string& if_none_match : {etag, "W/" + etag, std::string("*"), "\"other\", " + etag,
                                           "\"other\"," + etag + ",\"third\""}) {
    auto response = get(port, "/", {{"If-None-Match", if_none_match}});
    EXPECT_EQ(response.result_int(), 304U) << if_none_match;
    EXPECT_TRUE(response.body().empty());
    EXPECT_EQ(header(response, http::field::etag), etag);
    EXPECT_FALSE(has_header(response, http::field::content_length)) << "a 304 has no payload to measure";
  }
  for (const std::string& if_none_match : {std::string("\"other\""), etag.substr(1, etag.size() - 2)}) {
    auto response = get(port, "/", {{"If-None-Match", if_none_match}});
    EXPECT_EQ(response.result_int(), 200U) << if_none_match;
    EXPECT_EQ(response.body(), read_file(dir_ / "web/client.html"));
  }

  // A changed file gets a new tag: the old one no longer matches.
  std::this_thread::sleep_for(20ms);
  write_file(dir_ / "web" / "client.html", "<!doctype html><title>chat</title><p>a new version</p>\n");
  auto changed = get(port, "/", {{"If-None-Match", etag}});
  EXPECT_EQ(changed.result_int(), 200U);
  EXPECT_EQ(changed.body(), read_file(dir_ / "web/client.html"));
  EXPECT_NE(header(changed, http::field::etag), etag);
  EXPECT_EQ(get(port, "/", {{"If-None-Match", header(changed, http::field::etag)}}).result_int(), 304U);
}

TEST_F(HistoryHttpTest, NothingOutsideTheWebRootIsReachable) {
  auto http = http_host(dir_.path(), {});
  const auto port = http->port("history-http");
  const std::string secret_abs = (dir_ / "secret.txt").string();
  const std::vector<std::string> targets{
      "/../secret.txt",
      "/assets/../../secret.txt",
      "/assets/../client.html",  // no "..", even when it would stay inside
      "/./client.html",
      "/..%2fsecret.txt",
      "/..%2Fsecret.txt",
      "/%2e%2e/secret.txt",
      "/%2E%2E/secret.txt",
      "/%2e%2e%2fsecret.txt",
      "/.%2e/secret.txt",
      "/%252e%252e/secret.txt",  // double-encoded
      "/%252e%252e%252fsecret.txt",
      "/..%252fsecret.txt",
      "/%25%32%65%25%32%65/secret.txt",
      "/..\\secret.txt",
      "/..%5csecret.txt",
      "/assets/..%5c..%5csecret.txt",
      "//etc/passwd",
      "/%2fetc%2fpasswd",
      "/%2Fetc/passwd",
      "/" + secret_abs,           // an absolute path of the file system, under the root: not there
      "/%2f" + secret_abs.substr(1),
      "/client.html%00",          // NUL bytes
      "/client.html%00.txt",
      "/%00../secret.txt",
      "/client.html%0a",
      "/escape.txt",              // a symbolic link to the secret
      "/up/secret.txt",           // through a linked directory
      "/.hidden",
      "/..secret.txt",            // a name starting with '.'
      "/assets",                  // directories: never listed
      "/assets/",
      "/client.html/",
      "/no-such-file.html",
      "/%",
      "/%zz",
  };
  for (const auto& target : targets) {
    auto response = get(port, target);
    EXPECT_EQ(response.result_int(), 404U) << target;
    EXPECT_EQ(response.body().find("TOP SECRET"), std::string::npos) << target;
    EXPECT_EQ(response.body().find("root:"), std::string::npos) << target;
  }

  // Malformed requests: a raw NUL in the request line, a target that is not a path.
  for (const std::string& raw : {std::string("GET /client.html") + '\0' + ".txt HTTP/1.1\r\nHost: x\r\n\r\n",
                                 std::string("GET http://127.0.0.1/../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n"),
                                 std::string("GET ../secret.txt HTTP/1.1\r\nHost: x\r\n\r\n")}) {
    HttpConnection connection(port);
    connection.write_raw(raw);
    auto response = connection.read_response();
    EXPECT_EQ(response.result_int(), 400U) << raw;
    EXPECT_EQ(response.body().find("TOP SECRET"), std::string::npos) << raw;
  }
  // The server is fine afterwards.
  EXPECT_EQ(get(port, "/").result_int(), 200U);
}

TEST_F(HistoryHttpTest, WithoutClientHtmlThePageIsAPlain404) {
  std::filesystem::remove(dir_ / "web" / "client.html");
  auto http = http_host(dir_.path(), {});
  auto response = get(http->port("history-http"), "/");
  EXPECT_EQ(response.result_int(), 404U);
  EXPECT_EQ(header(response, http::field::content_type), "application/json");
  EXPECT_EQ(body_json(response).at("error").as_string(), "not found");
  EXPECT_EQ(get(http->port("history-http"), "/assets/app.js").result_int(), 200U);
  EXPECT_TRUE(http->process().wait_for_line(std::regex("warn.*no client.html in the web root"), 1s));
}

// ---------------------------------------------------------------------------
// /config.json

TEST_F(HistoryHttpTest, ConfigJsonDerivesItsUrlsFromTheAddressThePageCameFrom) {
  auto http = http_host(dir_.path(),
                        {.extra_config = "allowed_hosts = [\"chat.example.org\", \"192.168.1.20\", \"[::1]\"]\n"});
  const auto port = http->port("history-http");
  auto urls = [&](const std::string& host) {
    HttpConnection connection(port);
    return body_json(connection.get("/config.json", {{"Host", host}}));
  };
  auto config = urls("chat.example.org:8081");
  EXPECT_EQ(config.at("ws_url").as_string(), "ws://chat.example.org:8080");
  EXPECT_EQ(config.at("history_url").as_string(), "http://chat.example.org:8081");
  config = urls("192.168.1.20");
  EXPECT_EQ(config.at("ws_url").as_string(), "ws://192.168.1.20:8080");
  EXPECT_EQ(config.at("history_url").as_string(), "http://192.168.1.20");
  config = urls("[::1]:9000");
  EXPECT_EQ(config.at("ws_url").as_string(), "ws://[::1]:8080");
  EXPECT_EQ(config.at("history_url").as_string(), "http://[::1]:9000");
  // A Host header that is not a plain host[:port], or names a host that is
  // not on the allowlist, is not echoed into a URL.
  for (const std::string junk :
       {"evil.example/path", "a b", "\"quoted\"", "x:y:z", "<script>", "evil.example", "chat.example.org.evil:80"}) {
    config = urls(junk);
    EXPECT_EQ(config.at("history_url").as_string(), "http://127.0.0.1:" + std::to_string(port)) << junk;
    EXPECT_EQ(config.at("ws_url").as_string(), "ws://127.0.0.1:8080") << junk;
  }
  auto response = get(port, "/config.json");
  EXPECT_EQ(header(response, http::field::cache_control), "no-store");
}

TEST_F(HistoryHttpTest, ConfigJsonGivesThePublicUrlsWhenConfigured) {
  auto http = http_host(dir_.path(), {.extra_config = "public_history_url = \"https://chat.example.org\"\nws_port = 9090\n",
                              .env = {{"PUBLIC_WS_URL", "wss://chat.example.org/ws"}}});
  auto config = body_json(get(http->port("history-http"), "/config.json"));
  EXPECT_EQ(config.at("ws_url").as_string(), "wss://chat.example.org/ws");
  EXPECT_EQ(config.at("history_url").as_string(), "https://chat.example.org");

  auto derived = http_host(dir_.path(), {.env = {{"WS_PORT", "9191"}}});
  EXPECT_EQ(body_json(get(derived->port("history-http"), "/config.json")).at("ws_url").as_string(), "ws://127.0.0.1:9191");
}

TEST_F(HistoryHttpTest, TheEnvironmentOverridesTheTable) {
  const auto port = free_tcp_port();
  write_file(dir_ / "other-web" / "client.html", "<p>the other page</p>");
  auto http = http_host(dir_.path(), {.env = {{"HTTP_PORT", std::to_string(port)},
                                      {"HTTP_WEB_ROOT", (dir_ / "other-web").string()}}});
  EXPECT_EQ(http->port("history-http"), port);
  EXPECT_EQ(get(port, "/").body(), "<p>the other page</p>");
}


// ---------------------------------------------------------------------------
// Connections and limits

TEST_F(HistoryHttpTest, KeepAliveServesManyRequestsOnOneConnectionInOrder) {
  auto http = http_host(dir_.path(), {});
  HttpConnection connection(http->port("history-http"));
  auto first = connection.get("/config.json");
  EXPECT_EQ(first.result_int(), 200U);
  EXPECT_TRUE(first.keep_alive());
  auto second = connection.get("/notes.txt");
  EXPECT_EQ(second.result_int(), 200U);
  EXPECT_EQ(second.body(), "plain text\n");
  auto third = connection.get("/history?room=a&limit=0");
  EXPECT_EQ(third.result_int(), 400U);
  EXPECT_TRUE(third.keep_alive());  // an answered error keeps the connection

  // Pipelined: both requests written at once, answered in order.
  connection.write_raw("GET /notes.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /assets/style.css HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(connection.read_response().body(), "plain text\n");
  EXPECT_EQ(connection.read_response().body(), "body { color: black; }\n");

  // Connection: close is honoured.
  auto last = connection.get("/notes.txt", {{"Connection", "close"}});
  EXPECT_EQ(last.result_int(), 200U);
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(connection.closed_by_server());

  // HTTP/1.0 without keep-alive: closed after the answer.
  HttpConnection old(http->port("history-http"));
  old.write_raw("GET /notes.txt HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.read_response().body(), "plain text\n");
  EXPECT_TRUE(old.closed_by_server());
}

TEST_F(HistoryHttpTest, HeadersOver8KiBGet431AndTheConnectionCloses) {
  auto http = http_host(dir_.path(), {});
  {
    HttpConnection connection(http->port("history-http"));
    auto fine = connection.get("/notes.txt", {{"X-Padding", std::string(7000, 'p')}});
    EXPECT_EQ(fine.result_int(), 200U);
  }
  for (const Headers& headers : {Headers{{"X-Padding", std::string(9000, 'p')}},
                                 Headers{{"X-A", std::string(3000, 'a')}, {"X-B", std::string(3000, 'b')},
                                         {"X-C", std::string(3000, 'c')}}}) {
    HttpConnection connection(http->port("history-http"));
    auto response = connection.get("/notes.txt", headers);
    EXPECT_EQ(response.result_int(), 431U);
    EXPECT_EQ(header(response, http::field::content_type), "application/json");
    EXPECT_EQ(header(response, http::field::vary), "Origin");  // like every response
    EXPECT_FALSE(response.keep_alive());
    EXPECT_TRUE(connection.closed_by_server());
  }
  // A long request target counts too.
  HttpConnection connection(http->port("history-http"));
  EXPECT_EQ(connection.get("/history?room=" + std::string(9000, 'r')).result_int(), 431U);
  EXPECT_EQ(get(http->port("history-http"), "/notes.txt").result_int(), 200U);
}

TEST_F(HistoryHttpTest, BodiesOverTheLimitGet413) {
  auto http = http_host(dir_.path(), {.extra_config = "max_body_bytes = 1024\n"});
  HttpConnection small(http->port("history-http"));
  EXPECT_EQ(small.request(http::verb::get, "/notes.txt", {}, std::string(1000, 'b')).result_int(), 200U);
  HttpConnection large(http->port("history-http"));
  auto response = large.request(http::verb::get, "/notes.txt", {}, std::string(4096, 'b'));
  EXPECT_EQ(response.result_int(), 413U);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(large.closed_by_server());
}

TEST_F(HistoryHttpTest, IdleAndSlowConnectionsAreClosedByTheirTimeouts) {
  // The client gives up after 10 s (set_socket_timeouts), long before the
  // default timeouts: a close it sees comes from these.
  auto http = http_host(dir_.path(), {.extra_config = "idle_timeout_ms = 300\nrequest_timeout_ms = 1000\n"});
  // Idle between requests.
  HttpConnection idle(http->port("history-http"));
  EXPECT_EQ(idle.get("/notes.txt").result_int(), 200U);
  EXPECT_TRUE(idle.closed_by_server());

  // Never sends anything.
  HttpConnection silent(http->port("history-http"));
  EXPECT_TRUE(silent.closed_by_server());

  // Starts a request and never finishes it, a header line every 100 ms (so
  // never idle for long): the request timeout closes it while bytes still
  // come. Writing to a closed connection fails (reset) soon after.
  HttpConnection slow(http->port("history-http"));
  slow.write_raw("GET /notes.txt HTTP/1.1\r\n");
  bool closed = false;
  for (int i = 0; i < 80 && !closed; ++i) {
    std::this_thread::sleep_for(100ms);
    try {
      slow.write_raw("X-Slow: " + std::to_string(i) + "\r\n");
    } catch (const boost::system::system_error&) {
      closed = true;
    }
  }
  EXPECT_TRUE(closed) << "a request trickling in for 8 s was not cut off";
}

// ---------------------------------------------------------------------------
// The documentation

std::vector<std::string> documented_curl_commands(const std::string& doc) {
  std::vector<std::string> commands;
  std::istringstream lines(doc);
  bool in_shell = false;
  for (std::string line; std::getline(lines, line);) {
    const auto start = line.find_first_not_of(' ');
    const std::string text = start == std::string::npos ? "" : line.substr(start);
    if (text.rfind("```", 0) == 0) {
      in_shell = !in_shell && text == "```sh";
      continue;
    }
    if (in_shell && text.rfind("curl ", 0) == 0) commands.push_back(text);
  }
  return commands;
}

// The JSON block that follows `command` in the document.
std::string documented_output(const std::string& doc, const std::string& command) {
  const auto at = doc.find(command);
  const auto open = doc.find("```json\n", at);
  const auto close = doc.find("```", open + 8);
  return doc.substr(open + 8, close - open - 8);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

struct CurlRun {
  int exit_code;
  std::string output;
};

CurlRun run_shell(const std::filesystem::path& dir, const std::string& command) {
  HostProcess shell({.executable = "/bin/sh",
                     .args = {"-c", command},
                     .unset_env = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"},
                     .working_dir = dir});
  auto code = shell.wait_exit(30s);
  return {code.value_or(-1), shell.output(Stream::Stdout)};
}

TEST_F(HistoryHttpTest, CurlExactlyAsTheDocsShow) {
  const auto doc = read_file(source_dir() / "docs" / "http-api.md");
  const auto commands = documented_curl_commands(doc);
  ASSERT_GE(commands.size(), 8U);

  // The all-in-one host of the shipped config, on test ports; the room of the examples.
  const auto chat_port = free_tcp_port();
  auto host = http_host(dir_.path(), {.plugins = {"grpc-chat", "history-http"},
                                      .chat_port = chat_port,
                              .extra_tables = "[grpc-chat]\nhost = \"127.0.0.1\"\nport = " +
                                              std::to_string(chat_port) + "\nstore = \"memory\"\n"});
  {
    ChatStreamClient alice(chat_channel("127.0.0.1", chat_port));
    ChatStreamClient bob(chat_channel("127.0.0.1", chat_port));
    join_room(alice, "lobby", "alice");
    join_room(bob, "lobby", "bob");
    send_acked(alice, "lobby", "alice", {{"m1", "hello"}});
    send_acked(bob, "lobby", "bob", {{"m2", "hi alice"}});
    send_acked(alice, "lobby", "alice", {{"m3", "hello again"}});
  }
  const std::string documented_base = "http://localhost:8081";
  const std::string base = "http://127.0.0.1:" + std::to_string(host->port("history-http"));

  std::set<std::string> seen;
  for (const auto& documented : commands) {
    const auto command = replace_all(documented, documented_base, base);
    ASSERT_NE(command, documented) << "every example talks to " << documented_base << ": " << documented;
    const auto run = run_shell(dir_.path(), command);
    EXPECT_EQ(run.exit_code, 0) << command << "\n" << run.output;
    EXPECT_FALSE(run.output.empty()) << command;
    if (documented == "curl 'http://localhost:8081/history?room=lobby&limit=2'") {
      seen.insert("history");
      // The output the docs show, but for the timestamps.
      auto expected = json::parse(documented_output(doc, documented)).as_object();
      auto actual = json::parse(run.output).as_object();
      for (auto* page : {&expected, &actual}) {
        for (auto& m : page->at("messages").as_array()) m.as_object().erase("timestamp");
      }
      EXPECT_EQ(actual, expected) << run.output;
    } else if (documented == "curl 'http://localhost:8081/history/senders?room=lobby'") {
      seen.insert("senders");
      EXPECT_EQ(json::parse(run.output), json::parse(documented_output(doc, documented))) << run.output;
    } else if (documented == "curl http://localhost:8081/config.json") {
      seen.insert("config");
      const auto local = replace_all(replace_all(run.output, base, documented_base), "ws://127.0.0.1:",
                                     "ws://localhost:");
      EXPECT_EQ(json::parse(local), json::parse(documented_output(doc, documented))) << run.output;
    } else if (documented.find("limit=5000") != std::string::npos) {
      seen.insert("400");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 400 Bad Request", 0), 0U) << run.output;
      EXPECT_NE(run.output.find(R"({"error":"limit must be an integer from 1 to 1000","parameter":"limit"})"),
                std::string::npos);
    } else if (documented == "curl -i http://localhost:8081/healthz") {
      seen.insert("healthz");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 200 OK", 0), 0U) << run.output;
      EXPECT_NE(run.output.find(R"({"status":"ok"})"), std::string::npos);
    } else if (documented == "curl http://localhost:8081/metrics") {
      seen.insert("metrics");
      EXPECT_NE(run.output.find("chat_http_requests_total{route=\"/history\",status=\"200\"}"), std::string::npos);
      EXPECT_NE(run.output.find("chat_messages_stored_total 3"), std::string::npos) << run.output;
    } else if (documented.find("-X OPTIONS") != std::string::npos) {
      seen.insert("preflight");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 204 No Content", 0), 0U) << run.output;
      EXPECT_NE(run.output.find("Access-Control-Allow-Origin: https://chat.example.org"), std::string::npos);
    } else if (documented == "curl -I http://localhost:8081/") {
      seen.insert("page");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 200 OK", 0), 0U) << run.output;
      EXPECT_NE(run.output.find("Content-Type: text/html; charset=utf-8"), std::string::npos);
      EXPECT_NE(run.output.find("ETag: \""), std::string::npos);
    } else if (documented.find("If-None-Match") != std::string::npos) {
      seen.insert("304");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 304 Not Modified", 0), 0U) << run.output;
    } else if (documented.find("-H 'Origin: ") != std::string::npos) {
      seen.insert("cors");
      EXPECT_EQ(run.output.rfind("HTTP/1.1 200 OK", 0), 0U) << run.output;
      EXPECT_NE(run.output.find("Access-Control-Allow-Origin: https://chat.example.org\r\n"), std::string::npos);
      EXPECT_NE(run.output.find("Vary: Origin\r\n"), std::string::npos);
    }
  }
  EXPECT_EQ(seen.size(), 10U) << "an example the test knows is missing from the docs";
}

}  // namespace
}  // namespace chathost::test
