// TLS on every hop, through real host processes on loopback, with
// self-signed certificates each test makes (support/test_tls.hpp): grpc-chat's
// gRPC port, the bridges' channel to it in a split deployment, history-http
// over https://, and the TLS files that stop a host before it listens.
#include "chat.grpc.pb.h"  // from chat_proto
#include "support/chat_stream_client.hpp"
#include "support/config_tables.hpp"
#include "support/host_process.hpp"
#include "support/history_hosts.hpp"
#include "support/host_variables.hpp"
#include "support/test_helpers.hpp"
#include "support/test_host.hpp"
#include "support/test_tls.hpp"
#include "support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>

namespace chathost::test {
namespace {

namespace ssl = net::ssl;

// ---------------------------------------------------------------------------
// Clients

std::shared_ptr<grpc::Channel> tls_channel(std::uint16_t port, const std::string& trusted_pem,
                                           const std::string& server_name = "") {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = trusted_pem;
  grpc::ChannelArguments args;
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port), grpc::SslCredentials(options), args);
}

grpc::Status get_history(const std::shared_ptr<grpc::Channel>& channel, const std::string& room,
                         chat::GetChatHistoryResponse* response) {
  auto stub = chat::ChatService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 5s);
  chat::GetChatHistoryRequest request;
  request.set_room_id(room);
  return stub->GetChatHistory(&context, request, response);
}

http::request<http::string_body> get_request(const std::string& target, const std::string& host) {
  http::request<http::string_body> request{http::verb::get, target, 11};
  request.set(http::field::host, host);
  return request;
}

// One GET over https://127.0.0.1:port, trusting only `trusted_pem` and
// checking the certificate is for `name` (sent as SNI too). Throws when the
// handshake fails.
Response https_get(std::uint16_t port, const std::string& trusted_pem, const std::string& target,
                   const std::string& name = "localhost", const std::string& host_header = "") {
  net::io_context io;
  ssl::context context(ssl::context::tls_client);
  context.add_certificate_authority(net::buffer(trusted_pem));
  context.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<tcp::socket> stream(io, context);
  stream.set_verify_callback(ssl::host_name_verification(name));
  // SSL_set_tlsext_host_name, without the macro's C cast.
  if (SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(name.c_str())) != 1) {
    throw std::runtime_error("cannot set the TLS server name " + name);
  }
  stream.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  set_socket_timeouts(stream.next_layer());
  stream.handshake(ssl::stream_base::client);
  http::write(stream, get_request(target, host_header.empty() ? name + ":" + std::to_string(port) : host_header));
  beast::flat_buffer buffer;
  Response response;
  http::read(stream, buffer, response);
  beast::error_code ec;
  stream.shutdown(ec);  // the server may already have closed
  return response;
}

// One chat-host process with `plugins` from `tables`, `env` set for it.
std::unique_ptr<TestHost> start_host(const std::filesystem::path& dir, const std::string& name,
                                     std::vector<std::string> plugins, const std::string& tables,
                                     std::map<std::string, std::string> env = {}) {
  return std::make_unique<TestHost>(
      dir, TestHostOptions{.name = name, .plugins = std::move(plugins), .tables = tables, .env = std::move(env)});
}

json::array messages_of(const Response& response) {
  return json::parse(response.body()).as_object().at("messages").as_array();
}

class TlsTest : public ::testing::Test {
 protected:
  TempDir dir_;
};

// ---------------------------------------------------------------------------
// grpc-chat

TEST_F(TlsTest, GrpcChatWithACertificateChatsAndServesHistoryOverTlsOnly) {
  const auto cert = make_self_signed_certificate(dir_.path());
  auto host = start_host(dir_.path(), "chat", {"grpc-chat"},
                         grpc_chat_table(0, "tls_cert_file = " + toml_string(cert.cert_file) +
                                                "\ntls_key_file = " + toml_string(cert.key_file) + "\n"));
  const auto port = host->port("grpc-chat");
  EXPECT_NE(host->output().find("TLS, certificate " + cert.cert_file.string()), std::string::npos) << host->output();

  // A client trusting the certificate chats (the name checked is 127.0.0.1,
  // one of its subjectAltNames) ...
  {
    ChatStreamClient alice(tls_channel(port, cert.cert_pem));
    alice.send(join("secure", "alice"));
    ASSERT_TRUE(alice.wait_for(is_joined("secure")));
    alice.send(chat_message("secure", "alice", "over TLS", "t1"));
    ASSERT_TRUE(alice.wait_for(is_ack_for("t1")));
    ASSERT_TRUE(alice.wait_for(is_message_with_content("over TLS")));
  }
  // ... and reads history, also under the certificate's DNS name.
  for (const std::string name : {"", "localhost"}) {
    chat::GetChatHistoryResponse response;
    const auto status = get_history(tls_channel(port, cert.cert_pem, name), "secure", &response);
    ASSERT_TRUE(status.ok()) << name << ": " << status.error_message();
    ASSERT_EQ(response.messages_size(), 1);
    EXPECT_EQ(response.messages(0).content(), "over TLS");
  }

  // An insecure client, one trusting another certificate and one expecting
  // another name get nothing.
  const auto other = make_self_signed_certificate(dir_.path(), "other");
  const std::vector<std::pair<std::string, std::shared_ptr<grpc::Channel>>> refused{
      {"insecure", chat_channel("127.0.0.1", port)},
      {"another certificate", tls_channel(port, other.cert_pem)},
      {"another name", tls_channel(port, cert.cert_pem, "chat.example.org")}};
  for (const auto& [what, channel] : refused) {
    chat::GetChatHistoryResponse response;
    const auto status = get_history(channel, "secure", &response);
    EXPECT_FALSE(status.ok()) << what;
    EXPECT_EQ(response.messages_size(), 0) << what;
  }
  EXPECT_TRUE(host->process().running());
  EXPECT_TRUE(host->stop_cleanly());
}

// ---------------------------------------------------------------------------
// The split deployment: the bridges reach grpc-chat over TLS

// ws-proxy and history-http in one host, pointed at grpc-chat by the
// environment as docs/deployment.md does it.
struct BridgeHost {
  std::unique_ptr<TestHost> process;
  std::uint16_t http_port = 0;
  std::uint16_t ws_port = 0;
};

BridgeHost bridge_host(const std::filesystem::path& dir, std::uint16_t chat_port,
                       std::map<std::string, std::string> tls_env) {
  BridgeHost bridge;
  bridge.ws_port = free_tcp_port();
  auto env = std::move(tls_env);
  env.insert({{"GRPC_HOST", "127.0.0.1"},
              {"GRPC_PORT", std::to_string(chat_port)},
              {"HTTP_HOST", "127.0.0.1"},
              {"HTTP_PORT", "0"},
              {"WS_HOST", "127.0.0.1"},
              {"WS_PORT", std::to_string(bridge.ws_port)}});
  bridge.process = start_host(dir, "bridges", {"ws-proxy", "history-http"},
                              "[ws-proxy]\nreconnect_max_ms = 500\n\n[history-http]\nupstream_deadline_ms = 2000\n",
                              std::move(env));
  bridge.http_port = bridge.process->port("history-http");
  return bridge;
}

TEST_F(TlsTest, SplitDeploymentBridgesChatAndReadHistoryOverATlsChannel) {
  // Host A's certificate is made for its DNS name only; the bridges connect
  // to 127.0.0.1 and check that name instead (chat_tls_server_name).
  const auto cert = make_self_signed_certificate(dir_ / "a", "chat-service",
                                                 {.dns = {"chat-service.test"}, .ip = {}});
  const auto chat_port = free_tcp_port();
  auto service = start_host(dir_ / "a", "chat-service", {"grpc-chat"}, grpc_chat_table(chat_port),
                            {{"GRPC_TLS_CERT_FILE", cert.cert_file.string()},
                             {"GRPC_TLS_KEY_FILE", cert.key_file.string()}});

  auto b = bridge_host(dir_ / "b", chat_port,
                       {{"GRPC_TLS_CA_FILE", cert.cert_file.string()}, {"GRPC_TLS_SERVER_NAME", "chat-service.test"}});
  EXPECT_NE(b.process->output().find("TLS, trusting " + cert.cert_file.string() +
                                     ", certificate name chat-service.test"),
            std::string::npos)
      << b.process->output();

  // Alice chats through B's WebSocket: ws-proxy's streams to A are TLS.
  WsClient alice({.port = b.ws_port, .target = "/?user=alice&room=split"});
  ASSERT_TRUE(alice.wait_for(is_joined("split")));
  alice.send(chat_message("split", "alice", "across a TLS channel", "s1"));
  ASSERT_TRUE(alice.wait_for(is_ack_for("s1")));
  ASSERT_TRUE(alice.wait_for(is_message_with_content("across a TLS channel")));

  // history-http reads it from A over its own TLS channel.
  EXPECT_TRUE(wait_for_status(b.http_port, "/healthz", 200)) << b.process->output();
  const auto page = get(b.http_port, "/history?room=split");
  ASSERT_EQ(page.result_int(), 200U) << page.body();
  const auto messages = messages_of(page);
  ASSERT_EQ(messages.size(), 1U) << page.body();
  EXPECT_EQ(messages[0].as_object().at("content").as_string(), "across a TLS channel");
  EXPECT_EQ(messages[0].as_object().at("sender_id").as_string(), "alice");
  alice.close();
  EXPECT_TRUE(alice.wait_closed());
  EXPECT_TRUE(b.process->stop_cleanly());

  // Bridges that do not trust A's certificate, or check the name they
  // connect to, never reach it: the chat service is unavailable to them,
  // and they say so instead of failing.
  const std::vector<std::pair<std::string, std::map<std::string, std::string>>> refused{
      {"insecure", {}},
      {"without the server name", {{"GRPC_TLS_CA_FILE", cert.cert_file.string()}}},
  };
  for (const auto& [what, env] : refused) {
    auto c = bridge_host(dir_ / "c", chat_port, env);
    EXPECT_EQ(get(c.http_port, "/healthz").result_int(), 503U) << what;
    EXPECT_EQ(get(c.http_port, "/history?room=split").result_int(), 503U) << what;
    WsClient bob({.port = c.ws_port, .target = "/?user=bob"});
    const auto status = bob.wait_for([](const chat::ChatStream& e) { return e.has_service_status(); });
    ASSERT_TRUE(status) << what;
    EXPECT_FALSE(status->service_status().available()) << what;
    bob.close();
    EXPECT_TRUE(c.process->stop_cleanly());
  }
  EXPECT_TRUE(service->stop_cleanly());
}

// ---------------------------------------------------------------------------
// history-http over https://

TEST_F(TlsTest, HistoryHttpWithACertificateServesHttpsOnlyAndOutlivesPlainRequests) {
  const auto cert = make_self_signed_certificate(dir_.path());
  const auto chat_port = free_tcp_port();
  auto host = start_host(dir_.path(), "https", {"grpc-chat", "history-http"},
                         grpc_chat_table(chat_port) +
                             "\n[history-http]\nhost = \"127.0.0.1\"\nport = 0\nchat_host = \"127.0.0.1\"\n"
                             "allowed_hosts = [\"chat.example.org\"]\n",
                         {{"GRPC_PORT", std::to_string(chat_port)},
                          {"HTTP_TLS_CERT_FILE", cert.cert_file.string()},
                          {"HTTP_TLS_KEY_FILE", cert.key_file.string()}});
  const auto port = host->port("history-http");
  EXPECT_EQ(host->endpoint("history-http").scheme, "https");
  // history-http's own channel to grpc-chat stays insecure: TLS is per hop.
  EXPECT_NE(host->output().find("127.0.0.1:" + std::to_string(chat_port) + ", insecure"), std::string::npos)
      << host->output();

  {
    ChatStreamClient alice(chat_channel("127.0.0.1", chat_port));
    alice.send(join("lobby", "alice"));
    ASSERT_TRUE(alice.wait_for(is_joined("lobby")));
    alice.send(chat_message("lobby", "alice", "read me over https", "h1"));
    ASSERT_TRUE(alice.wait_for(is_ack_for("h1")));
  }

  const auto health = https_get(port, cert.cert_pem, "/healthz");
  EXPECT_EQ(health.result_int(), 200U);
  EXPECT_EQ(health.body(), R"({"status":"ok"})");
  // The certificate is checked under its IP address too.
  const auto history = https_get(port, cert.cert_pem, "/history?room=lobby", "127.0.0.1");
  ASSERT_EQ(history.result_int(), 200U) << history.body();
  ASSERT_EQ(messages_of(history).size(), 1U);
  EXPECT_EQ(messages_of(history)[0].as_object().at("content").as_string(), "read me over https");

  // The page learns https:// and wss:// URLs.
  const auto config =
      json::parse(https_get(port, cert.cert_pem, "/config.json", "localhost", "chat.example.org:8443").body())
          .as_object();
  EXPECT_EQ(config.at("history_url").as_string(), "https://chat.example.org:8443");
  EXPECT_EQ(config.at("ws_url").as_string(), "wss://chat.example.org:8080");

  // A client that does not trust the certificate ends at the handshake.
  const auto other = make_self_signed_certificate(dir_.path(), "other");
  EXPECT_THROW(https_get(port, other.cert_pem, "/healthz"), boost::system::system_error);

  // Plain HTTP to the https port gets no HTTP answer, only a closed
  // connection (after, at most, a TLS alert); the server goes on.
  for (int i = 0; i < 3; ++i) {
    net::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    set_socket_timeouts(socket);
    net::write(socket, net::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")));
    std::string received;
    std::array<char, 512> chunk{};
    beast::error_code ec;
    while (!ec) received.append(chunk.data(), socket.read_some(net::buffer(chunk), ec));
    EXPECT_TRUE(ec == net::error::eof || ec == net::error::connection_reset) << ec.message();
    EXPECT_EQ(received.rfind("HTTP/", 0), std::string::npos) << received;
  }
  EXPECT_TRUE(host->process().running());
  EXPECT_EQ(https_get(port, cert.cert_pem, "/healthz").result_int(), 200U);
  EXPECT_TRUE(host->stop_cleanly());
}

// ---------------------------------------------------------------------------
// Configuration

TEST_F(TlsTest, UnusableTlsFilesStopTheHostBeforeItListensNamingTheFileAndTheKey) {
  const auto cert = make_self_signed_certificate(dir_.path());
  const auto other = make_self_signed_certificate(dir_.path(), "other");
  const auto missing = dir_ / "no-such.pem";
  write_file(dir_ / "not-pem.txt", "this is not PEM\n");
  struct Case {
    std::string plugin;
    std::string lines;                       // in the plugin's table
    std::map<std::string, std::string> env;  //
    std::string expected;                    // in the output
  };
  const auto files = [](const std::filesystem::path& cert_file, const std::filesystem::path& key_file) {
    return "tls_cert_file = " + toml_string(cert_file) + "\ntls_key_file = " + toml_string(key_file);
  };
  const std::vector<Case> cases{
      {"grpc-chat", files(missing, cert.key_file), {},
       "[grpc-chat] tls_cert_file: cannot read the certificate file " + missing.string()},
      {"grpc-chat", "tls_cert_file = " + toml_string(cert.cert_file), {},
       "[grpc-chat] tls_cert_file: needs tls_key_file too (both or neither)"},
      {"grpc-chat", files(dir_.path(), cert.key_file), {},
       "[grpc-chat] tls_cert_file: " + dir_.path().string() + " is not a regular file"},
      {"grpc-chat", "", {{"GRPC_TLS_CERT_FILE", cert.cert_file.string()}, {"GRPC_TLS_KEY_FILE", missing.string()}},
       "environment variable GRPC_TLS_KEY_FILE: [grpc-chat] tls_key_file: cannot read the private key file " +
           missing.string()},
      {"history-http", files(cert.cert_file, dir_ / "not-pem.txt"), {},
       "[history-http] tls_key_file: " + (dir_ / "not-pem.txt").string() + " holds no usable PEM private key"},
      {"history-http", files(cert.key_file, cert.key_file), {},
       "[history-http] tls_cert_file: " + cert.key_file.string() + " holds no PEM certificate"},
      {"history-http", "", {{"GRPC_TLS_CA_FILE", missing.string()}},
       "environment variable GRPC_TLS_CA_FILE: [history-http] chat_tls_ca_file: cannot read the CA certificate "
       "file " + missing.string()},
      {"history-http", "chat_tls_server_name = \"chat.example.org\"", {},
       "[history-http] chat_tls_server_name: needs chat_tls_ca_file"},
      {"ws-proxy", files(cert.cert_file, other.key_file), {},
       "[ws-proxy] tls_key_file: " + other.key_file.string() + " is not the private key of the certificate in " +
           cert.cert_file.string()},
      {"ws-proxy", "tls_key_file = " + toml_string(cert.key_file), {},
       "[ws-proxy] tls_key_file: needs tls_cert_file too (both or neither)"},
      {"ws-proxy", "chat_tls_ca_file = " + toml_string(dir_ / "not-pem.txt"), {},
       "[ws-proxy] chat_tls_ca_file: " + (dir_ / "not-pem.txt").string() + " holds no PEM certificate"},
  };
  for (const auto& c : cases) {
    const auto host = start_on_bad_config(
        dir_.path(), "[host]\nplugins = [\"" + c.plugin + "\"]\n\n[" + c.plugin + "]\nport = 0\n" + c.lines + "\n", c.env);
    EXPECT_EQ(host->wait_exit(), 1) << c.lines;
    EXPECT_NE(host->output().find(c.expected), std::string::npos) << c.expected << "\n" << host->output();
    EXPECT_EQ(host->output().find("ready in"), std::string::npos) << host->output();
  }
}

TEST_F(TlsTest, HelpConfigListsTheTlsKeysWithTheirVariables) {
  HostProcess host({.executable = host_binary(),
                    .args = {"--help-config"},
                    .unset_env = host_variables(),
                    .working_dir = dir_.path()});
  ASSERT_EQ(host.wait_exit(), 0) << host.output();
  const auto output = host.output(Stream::Stdout);
  for (const std::string expected :
       {"env GRPC_TLS_CERT_FILE", "env GRPC_TLS_KEY_FILE", "env WS_TLS_CERT_FILE", "env WS_TLS_KEY_FILE",
        "env HTTP_TLS_CERT_FILE", "env HTTP_TLS_KEY_FILE", "chat_tls_ca_file (string) = \"\"  env GRPC_TLS_CA_FILE",
        "chat_tls_server_name (string) = \"\"  env GRPC_TLS_SERVER_NAME"}) {
    EXPECT_NE(output.find(expected), std::string::npos) << expected << "\n" << output;
  }
}

}  // namespace
}  // namespace chathost::test
