// What a host exposes by default, and what the shipped production config
// lets in: listeners that would let anyone in refuse to start beyond
// loopback, the shipped chat.toml listens on 127.0.0.1 only, and a host
// started from config/production.toml on every address accepts no stranger
// on any port.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/raw_peer.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_tls.hpp"

#include "auth/jwt.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <thread>

namespace chathost::test {
namespace {

namespace net = boost::asio;

// `--check` of a host with `tables`: configures every plugin, opens nothing.
std::unique_ptr<TestHost> check(const std::filesystem::path& dir, const std::string& name,
                                const std::vector<std::string>& plugins, const std::string& tables,
                                std::vector<std::string> args = {}) {
  args.insert(args.begin(), "--check");
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = name, .plugins = plugins, .tables = tables, .args = args, .expect_ready = false});
}

TEST(ExposureDefaults, OpenListenersBeyondLoopbackRefuseToStartUnlessInsecure) {
  TempDir dir;
  const std::string open_ws = ws_proxy_table(50051, "host = \"0.0.0.0\"\nallowed_origins = [\"*\"]\n");
  const std::string open_http = history_http_table(50051, "host = \"0.0.0.0\"\nallowed_origins = [\"*\"]\n");
  for (const auto& [plugin, table] : {std::pair{std::string("ws-proxy"), open_ws}, {"history-http", open_http}}) {
    auto refused = check(dir.path(), plugin + "-refused", {plugin}, table);
    EXPECT_EQ(refused->process().wait_exit(), 1);
    EXPECT_NE(refused->output().find("[" + plugin + "] host: \"0.0.0.0\" is reachable from the network"),
              std::string::npos)
        << refused->output();
    EXPECT_NE(refused->output().find("--insecure"), std::string::npos) << refused->output();

    auto insecure = check(dir.path(), plugin + "-insecure", {plugin}, table, {"--insecure"});
    EXPECT_EQ(insecure->process().wait_exit(), 0) << insecure->output();
    EXPECT_NE(insecure->output().find("(insecure)"), std::string::npos) << insecure->output();
  }
  // Exact origins, or tokens, make it fine.
  auto exact = check(dir.path(), "exact", {"ws-proxy"},
                     ws_proxy_table(50051, "host = \"0.0.0.0\"\nallowed_origins = [\"https://chat.example.org\"]\n"));
  EXPECT_EQ(exact->process().wait_exit(), 0) << exact->output();
  const auto secret = write_secret_file(dir.path(), "token-secret", "a token secret of more than thirty-two bytes");
  auto tokens = check(dir.path(), "tokens", {"history-http"},
                      history_http_table(50051, "host = \"0.0.0.0\"\nallowed_origins = [\"*\"]\n" +
                                                    path_key("auth_secret_file", secret)));
  EXPECT_EQ(tokens->process().wait_exit(), 0) << tokens->output();
}

TEST(ExposureDefaults, TheShippedConfigListensOnLoopbackOnly) {
  TempDir dir;
  HostProcess host(ProcessOptions{.executable = host_binary(),
                                  .args = {"--config", (source_dir() / "config" / "chat.toml").string()},
                                  .env = {{"GRPC_PORT", std::to_string(free_tcp_port())},
                                          {"WS_PORT", std::to_string(free_tcp_port())},
                                          {"HTTP_PORT", "0"},
                                          {"CHAT_STORE", "memory"}},
                                  .unset_env = {"GRPC_HOST", "WS_HOST", "HTTP_HOST", "CHATHOST_PLUGINS",
                                                "CHAT_SERVICE_TOKEN_FILE", "AUTH_SECRET_FILE", "CHATHOST_INSECURE"},
                                  .working_dir = dir.path()});
  const auto ready = host.wait_for_line(std::regex(R"(ready in \d+ ms: (.*))"), 30s);
  ASSERT_TRUE(ready) << host.output();
  const std::string endpoints = (*ready)[1];
  for (const auto* plugin : {"grpc-chat grpc://127.0.0.1:", "ws-proxy ws://127.0.0.1:", "history-http http://127.0.0.1:"}) {
    EXPECT_NE(endpoints.find(plugin), std::string::npos) << endpoints;
  }
  EXPECT_EQ(endpoints.find("0.0.0.0"), std::string::npos) << endpoints;
  host.signal(SIGTERM);
  EXPECT_TRUE(clean_exit(host.wait_exit(15s), host, "shipped"));
}

// A TLS client connection trusting `ca_pem` and checking the certificate
// for "localhost", from `source` (another loopback address is another
// client), with a small receive window when `receive_buffer` is set.
struct TlsClient {
  TlsClient(std::uint16_t port, const std::string& ca_pem, const std::string& source = "127.0.0.1",
            int receive_buffer = 0)
      : context(net::ssl::context::tls_client), stream(io, context) {
    context.add_certificate_authority(net::buffer(ca_pem));
    context.set_verify_mode(net::ssl::verify_peer);
    auto& socket = stream.next_layer();
    socket.open(net::ip::tcp::v4());
    if (receive_buffer > 0) socket.set_option(net::socket_base::receive_buffer_size(receive_buffer));
    socket.bind({net::ip::make_address(source), 0});
    socket.connect({net::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) stream.set_verify_callback(net::ssl::host_name_verification("localhost"));
    if (!ec) stream.handshake(net::ssl::stream_base::client, ec);
  }

  // Sends `request` and reads the response head ("" on failure).
  std::string request(const std::string& text) {
    if (!ec) net::write(stream, net::buffer(text), ec);
    std::string buffer;
    if (!ec) net::read_until(stream, net::dynamic_buffer(buffer), "\r\n\r\n", ec);
    return ec ? "" : buffer.substr(0, buffer.find("\r\n\r\n"));
  }

  net::io_context io;
  net::ssl::context context;
  net::ssl::stream<net::ip::tcp::socket> stream;
  boost::system::error_code ec;
};

std::string tls_request(std::uint16_t port, const std::string& ca_pem, const std::string& /*name*/,
                        const std::string& request, const std::string& source = "127.0.0.1") {
  return TlsClient(port, ca_pem, source).request(request);
}

// Over TLS: upgrades with `upgrade`, then sends 125-byte pings without
// reading until the server stops reading (a write blocks for a second), then
// reads: the close code that comes after the pongs (0: none).
int tls_ping_flood(std::uint16_t port, const std::string& ca_pem, const std::string& upgrade) {
  net::io_context io;
  net::ssl::context context(net::ssl::context::tls_client);
  context.add_certificate_authority(net::buffer(ca_pem));
  context.set_verify_mode(net::ssl::verify_peer);
  net::ssl::stream<net::ip::tcp::socket> stream(io, context);
  stream.next_layer().open(net::ip::tcp::v4());
  stream.next_layer().set_option(net::socket_base::receive_buffer_size(4096));
  stream.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
  stream.set_verify_callback(net::ssl::host_name_verification("localhost"));
  stream.handshake(net::ssl::stream_base::client);
  net::write(stream, net::buffer(upgrade));
  std::string buffer;
  net::read_until(stream, net::dynamic_buffer(buffer), "\r\n\r\n");
  if (buffer.rfind("HTTP/1.1 101", 0) != 0) return -1;
  buffer.erase(0, buffer.find("\r\n\r\n") + 4);
  // Writes give up after a second without progress: the proxy stopped reading.
  const timeval timeout{1, 0};
  ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  std::string pings;
  const std::string ping = std::string("\x89\xfd\0\0\0\0", 6) + std::string(125, 'p');  // masked, zero mask
  while (pings.size() < 64 * 1024) pings += ping;
  std::size_t sent = 0;
  boost::system::error_code ec;
  while (!ec && sent < (64U << 20)) sent += net::write(stream, net::buffer(pings), ec);
  if (sent >= (64U << 20)) return -2;  // the proxy read it all
  // Reading now: pongs, then the close frame.
  const timeval read_timeout{15, 0};
  ::setsockopt(stream.next_layer().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &read_timeout, sizeof read_timeout);
  for (;;) {
    ec = {};
    while (buffer.size() < 4 && !ec) {
      char chunk[16384];
      buffer.append(chunk, stream.read_some(net::buffer(chunk), ec));
    }
    if (buffer.size() < 2) return 0;
    const int opcode = static_cast<unsigned char>(buffer[0]) & 0x0F;
    std::size_t length = static_cast<unsigned char>(buffer[1]) & 0x7F;
    std::size_t header = 2;
    if (length == 126) {
      length = (static_cast<std::size_t>(static_cast<unsigned char>(buffer[2])) << 8) |
               static_cast<unsigned char>(buffer[3]);
      header = 4;
    }
    while (buffer.size() < header + length && !ec) {
      char chunk[16384];
      buffer.append(chunk, stream.read_some(net::buffer(chunk), ec));
    }
    if (buffer.size() < header + length) return 0;
    if (opcode == 0x8) {
      return (static_cast<unsigned char>(buffer[header]) << 8) | static_cast<unsigned char>(buffer[header + 1]);
    }
    buffer.erase(0, header + length);
  }
}

std::string upgrade_request(const std::string& target, const std::string& origin) {
  return "GET " + target +
         " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: " +
         origin + "\r\n\r\n";
}

// config/production.toml as shipped, its files and ports given through the
// environment as .env.production.example says, every listener on 0.0.0.0:
// nobody without the service token, a token or the right origin gets in.
TEST(ExposureDefaults, AHostFromTheProductionConfigLetsNoStrangerIn) {
  TempDir dir;
  const auto grpc_cert = make_self_signed_certificate(dir.path(), "grpc", {.dns = {"chat-service.internal"}, .ip = {}});
  const auto web_cert = make_self_signed_certificate(dir.path(), "web");
  const std::string service_token = "the production test's service token, over 32 bytes";
  const std::string token_secret = "the production test's token secret, over 32 bytes";
  const auto service_token_file = write_secret_file(dir.path(), "service-token", service_token);
  const auto token_secret_file = write_secret_file(dir.path(), "token-secret", token_secret);
  const auto grpc_port = free_tcp_port();
  const auto ws_port = free_tcp_port();
  const auto http_port = free_tcp_port();
  const auto metrics_port = free_tcp_port();
  HostProcess host(ProcessOptions{
      .executable = host_binary(),
      .args = {"--config", (source_dir() / "config" / "production.toml").string()},
      .env = {{"CHAT_SERVICE_TOKEN_FILE", service_token_file.string()},
              {"GRPC_PORT", std::to_string(grpc_port)},
              {"GRPC_TLS_CERT_FILE", grpc_cert.cert_file.string()},
              {"GRPC_TLS_KEY_FILE", grpc_cert.key_file.string()},
              {"GRPC_TLS_CA_FILE", grpc_cert.cert_file.string()},
              {"CHAT_STORE_PATH", (dir / "chat.db").string()},
              {"AUTH_SECRET_FILE", token_secret_file.string()},
              {"WS_PORT", std::to_string(ws_port)},
              {"WS_TLS_CERT_FILE", web_cert.cert_file.string()},
              {"WS_TLS_KEY_FILE", web_cert.key_file.string()},
              {"HTTP_PORT", std::to_string(http_port)},
              {"HTTP_METRICS_PORT", std::to_string(metrics_port)},
              {"HTTP_TLS_CERT_FILE", web_cert.cert_file.string()},
              {"HTTP_TLS_KEY_FILE", web_cert.key_file.string()},
              // ASan keeps freed memory in quarantine (256 MB by default):
              // resident memory would show what was ever allocated.
              {"ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1:quarantine_size_mb=4"}},
      .unset_env = {"GRPC_HOST", "WS_HOST", "HTTP_HOST", "CHATHOST_PLUGINS", "GRPC_TLS_SERVER_NAME",
                    "WS_ALLOWED_ORIGINS", "HTTP_ALLOWED_ORIGINS", "CHATHOST_INSECURE", "GRPC_TLS_CLIENT_CA_FILE"},
      .working_dir = dir.path()});
  const auto ready = host.wait_for_line(std::regex(R"(ready in \d+ ms: (.*))"), 30s);
  ASSERT_TRUE(ready) << host.output();
  EXPECT_NE((*ready)[1].find("grpc-chat grpc://0.0.0.0:"), std::string::npos) << (*ready)[1];

  // gRPC, over TLS as it must be: no token, no call; reflection is off.
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = grpc_cert.cert_pem;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("chat-service.internal");
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(grpc_port), grpc::SslCredentials(tls), args);
  auto stub = chat::ChatService::NewStub(channel);
  chat::GetUserRequest request;
  request.set_user_id("admin");
  chat::GetUserResponse user;
  EXPECT_EQ(stub->GetUser(call_context().get(), request, &user).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(stub->GetUser(call_context(service_token).get(), request, &user).ok());
  EXPECT_NE(host.output().find("reflection off"), std::string::npos);

  // WebSocket, wss:// only: another origin, or no token, gets no upgrade.
  const auto now = std::chrono::system_clock::now();
  const auto token = chat::auth::mint_token(token_secret, "alice", now + std::chrono::hours(1), now);
  const auto status = [](const std::string& head) { return head.substr(0, head.find("\r\n")); };
  EXPECT_EQ(status(tls_request(ws_port, web_cert.cert_pem, "localhost",
                               upgrade_request("/?access_token=" + token, "https://evil.example"))),
            "HTTP/1.1 403 Forbidden");
  EXPECT_EQ(status(tls_request(ws_port, web_cert.cert_pem, "localhost", upgrade_request("/", "https://chat.example.org"))),
            "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(status(tls_request(ws_port, web_cert.cert_pem, "localhost",
                               upgrade_request("/?access_token=" + token, "https://chat.example.org"))),
            "HTTP/1.1 101 Switching Protocols");
  // Plain ws:// to it gets nothing.
  EXPECT_FALSE(connect_and_read_line("127.0.0.1", ws_port, 2s));
  // A token holder who floods pings over wss:// and never reads: bounded,
  // closed with 1008, and the host's memory stays where it was.
  const auto before = resident_bytes(host.pid());
  EXPECT_EQ(tls_ping_flood(ws_port, web_cert.cert_pem, upgrade_request("/?access_token=" + token,
                                                                       "https://chat.example.org")),
            1008);
  EXPECT_LT(resident_bytes(host.pid()), before + (32U << 20));

  // HTTP, https:// only: history wants a token, metrics are elsewhere.
  const auto get = [&](const std::string& path, const std::string& headers = "") {
    return status(tls_request(http_port, web_cert.cert_pem, "localhost",
                              "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + headers + "\r\n"));
  };
  EXPECT_EQ(get("/history?room=lobby"), "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(get("/history?room=lobby", "Authorization: Bearer " + token + "\r\n"), "HTTP/1.1 200 OK");
  EXPECT_EQ(get("/metrics"), "HTTP/1.1 404 Not Found");
  const auto evil = tls_request(http_port, web_cert.cert_pem, "localhost",
                                "GET /config.json HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\n\r\n");
  EXPECT_EQ(status(evil), "HTTP/1.1 200 OK");
  EXPECT_EQ(evil.find("Access-Control-Allow-Origin"), std::string::npos) << evil;

  // Idle sockets from one address: capped from accept (past 64 closed at
  // once on this TLS port); another address is answered.
  {
    std::vector<std::unique_ptr<RawPeer>> idle;
    for (int i = 0; i < 150; ++i) idle.push_back(std::make_unique<RawPeer>(http_port));
    EXPECT_EQ(status(tls_request(http_port, web_cert.cert_pem, "localhost",
                                 "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n", "127.0.0.2")),
              "HTTP/1.1 200 OK");
  }

  // History amplification: 200 token holders ask for a room of 1 MB and
  // never read. What the host holds is its budget of answers under way
  // (max_history_bytes_in_flight, 64 MiB) and the TLS sessions, not 200 MB
  // of answers; and someone else is answered meanwhile.
  ChatStreamClient seeder(channel, service_token);
  seeder.send(join("lobby", "seeder"));
  ASSERT_TRUE(seeder.wait_for(is_joined("lobby")));
  const std::string content(3500, 'x');
  for (int i = 0; i < 300; ++i) seeder.send(chat_message("lobby", "seeder", content, "s" + std::to_string(i)));
  ASSERT_TRUE(seeder.wait_for(is_ack_for("s299"), 30s));
  const auto quiet = resident_bytes(host.pid());
  std::vector<std::unique_ptr<TlsClient>> silent;
  for (int i = 0; i < 200; ++i) {
    silent.push_back(std::make_unique<TlsClient>(http_port, web_cert.cert_pem, "127.0.0." + std::to_string(10 + i % 50),
                                                 4096));
    net::write(silent.back()->stream,
               net::buffer("GET /history?room=lobby&limit=1000 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " +
                           token + "\r\n\r\n"),
               silent.back()->ec);
  }
  std::this_thread::sleep_for(2s);
  const auto loaded = resident_bytes(host.pid());
  // Measured under ASan: 137-162 MiB more (the budget's answers, their
  // pages while they are turned into JSON, 200 TLS sessions); each reader
  // holding its answer would be 230 MB more and beyond.
  EXPECT_LT(loaded, quiet + (192U << 20)) << "from " << quiet << " to " << loaded;
  std::cout << "production host, 200 history readers that never read: " << quiet / 1024 << " KiB before, "
            << loaded / 1024 << " KiB after\n";
  EXPECT_EQ(get("/history?room=lobby&limit=5", "Authorization: Bearer " + token + "\r\n"), "HTTP/1.1 200 OK");
  silent.clear();

  host.signal(SIGTERM);
  EXPECT_TRUE(clean_exit(host.wait_exit(15s), host, "production"));
}

}  // namespace
}  // namespace chathost::test
