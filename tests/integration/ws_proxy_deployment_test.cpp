// ws-proxy as an operator deploys it: tokens on the upgrade, TLS (wss),
// its I/O threads, two hosts sharing one port, and its metrics.
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/host_process.hpp"
#include "support/proxy_hosts.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/ws_client.hpp"
#include "support/host_variables.hpp"
#include "support/test_tls.hpp"

#include "auth/jwt.hpp"
#include "chat_json.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <thread>

namespace chathost::test {
namespace {

using chat::ChatStream;
using chat::Error;
using chat::Presence;

// ---------------------------------------------------------------------------
// Tokens (auth_secret_file)

const std::string kTokenSecret = "a secret of the test, longer than thirty-two bytes";

std::string token_config(const std::filesystem::path& dir) {
  const auto path = dir / "token-secret";
  write_file(path, kTokenSecret + "\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return "auth_secret_file = \"" + path.string() + "\"\nauth_leeway_seconds = 0\n";
}

std::string token_for(const std::string& user, std::chrono::seconds valid_for = 1h,
                      const std::string& secret = kTokenSecret) {
  return chat::auth::mint_token(secret, user, std::chrono::system_clock::now() + valid_for);
}

TEST_F(WsProxyTest, WithASecretTheUpgradeWantsATokenAndItsSubjectIsTheUser) {
  auto host = all_in_one(dir_.path(), token_config(dir_.path()));
  auto upgrade = [&host](const std::string& target) { return try_upgrade(ws_to(*host, target)); };

  const auto none = upgrade("/?user=alice&room=r");
  EXPECT_EQ(none.status, 401) << none.body << none.error;
  EXPECT_EQ(upgrade("/?access_token=not-a-token").status, 401);
  EXPECT_EQ(upgrade("/?access_token=" + token_for("alice", 1h, "another secret, quite as long as ours is")).status,
            401);
  const auto expired = upgrade("/?access_token=" + token_for("alice", -1min));
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("token expired"), std::string::npos) << expired.body;
  const auto impostor = upgrade("/?user=bob&access_token=" + token_for("alice"));
  EXPECT_EQ(impostor.status, 401);
  EXPECT_NE(impostor.body.find("subject"), std::string::npos) << impostor.body;

  // A valid token: its subject is the user, even with no user= (room= alone is enough).
  WsClient alice(ws_to(*host, "/?room=r&access_token=" + token_for("alice")));
  ASSERT_TRUE(alice.wait_for(is_joined("r")));
  alice.send(chat_message("r", "", "hi", "a1"));
  auto echo = alice.wait_for(is_message_id("a1"));
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->chat_message().sender_id(), "alice");
  alice.send(chat_message("r", "mallory", "it was me", "a2"));
  auto refused = alice.wait_for(is_error_for(Error::NOT_ALLOWED, "a2"));
  ASSERT_TRUE(refused);
  EXPECT_TRUE(alice.events_matching(is_message_id("a2")).empty());
  // The token never reaches the log.
  for (const auto& line : host->process().lines()) EXPECT_EQ(line.text.find("access_token="), std::string::npos);
}

TEST_F(WsProxyTest, AnExpiringTokenClosesItsConnectionWith1008) {
  auto host = all_in_one(dir_.path(), token_config(dir_.path()));
  WsClient brief(ws_to(*host, "/?room=r&access_token=" + token_for("brief", 2s)));
  WsClient lasting(ws_to(*host, "/?room=r&access_token=" + token_for("lasting")));
  ASSERT_TRUE(brief.wait_for(is_joined("r")));
  ASSERT_TRUE(lasting.wait_for(is_joined("r")));
  auto closed = brief.wait_closed(15s);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->code, 1008) << closed->error;
  EXPECT_EQ(closed->reason, "token expired");
  // The other connection carries on.
  lasting.send(chat_message("r", "lasting", "still here", "l1"));
  ASSERT_TRUE(lasting.wait_for(is_message_id("l1")));
}

TEST_F(WsProxyTest, WithACertificateTheProxySpeaksWssAndTheChatWorks) {
  namespace ssl = boost::asio::ssl;
  namespace websocket = boost::beast::websocket;
  const auto cert = make_self_signed_certificate(dir_.path());
  auto host = all_in_one(dir_.path(), "tls_cert_file = \"" + cert.cert_file.string() + "\"\ntls_key_file = \"" +
                                          cert.key_file.string() + "\"\n");
  ASSERT_TRUE(host->process().wait_for_line(std::regex(R"(serving WebSockets on wss://)"), 1s))
      << host->process().output();

  boost::asio::io_context io;
  ssl::context trust(ssl::context::tls_client);
  trust.add_certificate_authority(boost::asio::buffer(cert.cert_pem));
  trust.set_verify_mode(ssl::verify_peer);
  websocket::stream<boost::beast::ssl_stream<boost::asio::ip::tcp::socket>> ws(io, trust);
  // SNI, as SSL_set_tlsext_host_name does (a macro with a C cast).
  char server_name[] = "localhost";
  ASSERT_EQ(SSL_ctrl(ws.next_layer().native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                     server_name),
            1);
  ws.next_layer().set_verify_callback(ssl::host_name_verification("localhost"));
  boost::beast::get_lowest_layer(ws).connect({boost::asio::ip::make_address("127.0.0.1"), host->port("ws-proxy")});
  ws.next_layer().handshake(ssl::stream_base::client);
  ws.handshake("localhost", "/?user=alice&room=r");
  ws.text(true);
  // Several frames at once, so some go out in one batch.
  for (int i = 0; i < 5; ++i) ws.write(boost::asio::buffer(exercise_frame("t" + std::to_string(i), "r", "alice", "over TLS")));
  std::set<std::string> echoed;
  for (int frames = 0; frames < 50 && echoed.size() < 5; ++frames) {
    boost::beast::flat_buffer buffer;
    ws.read(buffer);
    ChatStream event;
    ASSERT_TRUE(chat::json::decode(boost::beast::buffers_to_string(buffer.data()), event).empty());
    if (event.has_chat_message()) echoed.insert(event.chat_message().id());
  }
  EXPECT_EQ(echoed, (std::set<std::string>{"t0", "t1", "t2", "t3", "t4"}));
  ws.close(websocket::close_code::normal);

  // Plain ws:// to that port gets no upgrade.
  EXPECT_NE(try_upgrade(ws_to(*host)).status, 101);
}

// How many threads of process `pid` carry the name `name`.
std::size_t threads_named(pid_t pid, const std::string& name) {
  std::size_t count = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string comm = read_file(task.path() / "comm");
    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm == name) ++count;
  }
  return count;
}

TEST_F(WsProxyTest, IoThreadsComeFromTheConfigAndDefaultToOnePerCore) {
  auto three = all_in_one(dir_.path(), "threads = 3\n", {}, "three");
  EXPECT_EQ(threads_named(three->process().pid(), "ws-proxy-io"), 3U);
  EXPECT_TRUE(three->process().wait_for_line(std::regex(R"(serving WebSockets on .* \(3 threads\))"), 1s));

  auto cores = all_in_one(dir_.path(), "threads = 0\n", {}, "cores");
  const auto expected = std::max(1U, std::thread::hardware_concurrency());
  EXPECT_EQ(threads_named(cores->process().pid(), "ws-proxy-io"), expected);
}

// Established TCP connections of this network namespace with `port` at
// either end.
std::size_t connections_on_port(std::uint16_t port) {
  std::size_t count = 0;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines(read_file(table));
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      auto port_of = [](const std::string& address) {
        return std::stoul(address.substr(address.rfind(':') + 1), nullptr, 16);
      };
      if (state == "01" && (port_of(local) == port || port_of(remote) == port)) ++count;
    }
  }
  return count;
}

TEST_F(WsProxyTest, InOneHostTheProxyReachesTheChatServiceWithoutASocket) {
  auto host = all_in_one(dir_.path());
  auto alice = joined_client(*host, "alice", "r");
  alice->send(chat_message("r", "", "hi", "a1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("a1")));
  const auto chat_port = host->port("grpc-chat");
  EXPECT_EQ(connections_on_port(chat_port), 0U);

  // A proxy host of its own reaches that service over TCP, and chats with
  // the first host's clients.
  auto proxy = make_host(dir_.path(), "proxy", proxy_table(chat_port), "ws-proxy");
  auto bob = joined_client(*proxy, "bob", "r");
  bob->send(chat_message("r", "", "hello", "b1"));
  ASSERT_TRUE(alice->wait_for(is_message_id("b1")));
  EXPECT_GT(connections_on_port(chat_port), 0U);
}

TEST_F(WsProxyTest, WithReusePortTwoProxyHostsShareOnePort) {
  const auto chat_port = free_tcp_port();
  const auto ws_port = free_tcp_port();
  const std::string shared_port = "port = " + std::to_string(ws_port) + "\n";
  auto service = make_host(dir_.path(), "service", chat_table(chat_port), "grpc-chat");
  auto proxy1 = make_host(dir_.path(), "proxy1", proxy_table(chat_port, shared_port + "reuse_port = true\n"), "ws-proxy");
  auto proxy2 = make_host(dir_.path(), "proxy2", proxy_table(chat_port, shared_port + "reuse_port = true\n"), "ws-proxy");
  EXPECT_EQ(proxy1->port("ws-proxy"), ws_port);
  EXPECT_EQ(proxy2->port("ws-proxy"), ws_port);

  // Every process on the port must set it: one that does not cannot bind.
  const auto lone_dir = dir_.path() / "lone";
  write_file(lone_dir / "chat.toml", "[host]\n\n" + proxy_table(chat_port, shared_port));
  HostProcess lone(ProcessOptions{.executable = host_binary(),
                                  .args = {"--config", (lone_dir / "chat.toml").string(), "--plugins", "ws-proxy"},
                                  .unset_env = host_variables(),
                                  .working_dir = lone_dir});
  const auto lone_exit = lone.wait_exit(15s);
  ASSERT_TRUE(lone_exit);
  EXPECT_NE(*lone_exit, 0);
  EXPECT_NE(lone.output().find("in use"), std::string::npos) << lone.output();

  // Clients of the shared port, whichever process the kernel gives them to, chat together.
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 6; ++i) clients.push_back(joined_client(*proxy1, "user" + std::to_string(i), "r"));
  clients.front()->send(chat_message("r", "user0", "over one port", "u0"));
  for (const auto& client : clients) ASSERT_TRUE(client->wait_for(is_message_id("u0")));
}

// ---------------------------------------------------------------------------
// Metrics, as history-http exposes them for every plugin of its host

std::string http_get(std::uint16_t port, const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return response.body();
}

TEST_F(WsProxyTest, MetricsCountConnectionsFramesSlowClientsAndUpstreamAvailability) {
  const auto chat_port = free_tcp_port();
  auto host = make_host(dir_.path(), "host",
            chat_table(chat_port) + "\n" + proxy_table(chat_port) + "\n[history-http]\nhost = \"127.0.0.1\"\n" +
                "port = 0\nchat_port = " + std::to_string(chat_port) + "\n",
            "grpc-chat,ws-proxy,history-http");
  const auto http_port = host->port("history-http");

  auto alice = joined_client(*host, "alice", "r");
  auto bob = joined_client(*host, "bob", "r");
  // More connections and rooms than streams: the proxy multiplexes.
  std::vector<std::unique_ptr<WsClient>> others;
  for (int i = 0; i < 6; ++i) {
    others.push_back(joined_client(*host, "other" + std::to_string(i), "room" + std::to_string(i)));
  }
  alice->send(chat_message("r", "alice", "counted", "a1"));
  ASSERT_TRUE(bob->wait_for(is_message_id("a1")));
  // ws-proxy's upstream_streams (2), not one per connection, and
  // history-http's watch stream, which may still be on its way.
  std::string text = http_get(http_port, "/metrics");
  for (int i = 0; i < 100 && metric(text, "chat_grpc_streams") < 3; ++i) {
    std::this_thread::sleep_for(50ms);
    text = http_get(http_port, "/metrics");
  }
  EXPECT_EQ(metric(text, "chat_grpc_streams"), 3) << text;
  EXPECT_EQ(metric(text, "chat_ws_connections"), 8) << text;
  EXPECT_EQ(metric(text, "chat_ws_upstream_available"), 1) << text;
  EXPECT_GE(metric(text, "chat_ws_messages_in_total"), 1) << text;
  EXPECT_GE(metric(text, "chat_ws_messages_out_total"), 4) << text;
  EXPECT_EQ(find_metric(text, "chat_ws_slow_clients_dropped_total"), 0) << text;
  bob->close();
  ASSERT_TRUE(bob->wait_closed());
  for (int i = 0; i < 50 && metric(http_get(http_port, "/metrics"), "chat_ws_connections") != 7; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metric(http_get(http_port, "/metrics"), "chat_ws_connections"), 7);
}

}  // namespace
}  // namespace chathost::test
