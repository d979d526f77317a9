// grpc-chat: the chat service (chat.ChatService) as a chat-host plugin. It
// owns the store and is the single source of truth; the bridges talk to it
// over gRPC.
#include "chat_service.hpp"
#include "config_keys.hpp"
#include "message_committer.hpp"
#include "retention_sweeper.hpp"
#include "room_registry.hpp"
#include "store/history_store.hpp"

#include "in_process_services.hpp"  // from chat_proto
#include "net/listen_address.hpp"
#include "service_auth/service_auth_config.hpp"
#include "tls/grpc_credentials.hpp"
#include "tls/tls_config.hpp"

#include <chathost/plugin.hpp>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace {

using chathost::ConfigKey;
using namespace chat::service;

constexpr const char* kServiceName = "chat.ChatService";
constexpr std::chrono::milliseconds kFlushGrace{300};

// Why `path`, as far as can be seen without creating anything, can never
// hold a SQLite database: it is a directory, or the nearest of its parents
// that exists is not one (a file where a directory should be). Empty when it
// may; opening the store is what finds out for sure.
std::string unusable_store_path(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return path.string() + " is a directory, not a database file";
  for (auto parent = path.parent_path(); !parent.empty(); parent = parent.parent_path()) {
    const auto status = std::filesystem::status(parent, ec);
    if (std::filesystem::exists(status)) {
      return std::filesystem::is_directory(status) ? "" : parent.string() + " is not a directory";
    }
    if (parent == parent.root_path()) break;
  }
  return {};
}

class GrpcChatPlugin final : public chathost::Plugin {
 public:
  std::string_view name() const override { return "grpc-chat"; }

  std::vector<ConfigKey> config_keys() const override { return grpc_chat_config_keys(); }

  void configure(chathost::PluginContext ctx) override {
    ctx_ = std::move(ctx);
    const auto& config = ctx_.config;
    const auto keys = config_keys();
    config.apply(keys, limits_);
    config.apply(keys, admin_);
    const std::string host = config.get_string("host");
    if (host.empty()) config.reject("host", "must not be empty");
    listen_host_ = host;
    listen_address_ = chat::net::host_port(host, static_cast<std::uint16_t>(config.get_int("port")));
    loopback_only_ = chat::net::is_loopback_host(host);
    if (admin_.id.empty()) config.reject("admin_id", "must not be empty");
    store_kind_ = config.get_string("store");
    const bool use_sqlite = store_kind_ == "sqlite";
    store_path_ = config.get_string("store_path");
    if (store_kind_ == "postgres") configure_postgres(config);
    if (use_sqlite && store_path_.empty()) config.reject("store_path", "must not be empty with store = \"sqlite\"");
    // Found here, before any plugin opens a port (and by --check).
    if (use_sqlite) {
      if (auto why = unusable_store_path(store_path_); !why.empty()) {
        config.reject("store_path", "\"" + store_path_ + "\" cannot hold the database: " + why);
      }
    }
    sqlite_options_.synchronous = config.get_string("sync");
    max_receive_bytes_ = static_cast<int>(config.get_int("max_receive_bytes"));
    retention_.max_messages_per_room = static_cast<std::uint64_t>(config.get_int("retention_max_messages"));
    retention_.max_age = std::chrono::seconds(config.get_int("retention_max_age_seconds"));
    drain_timeout_ = std::chrono::milliseconds(config.get_int("drain_timeout_ms"));
    keepalive_time_ms_ = static_cast<int>(config.get_int("keepalive_time_ms"));
    keepalive_timeout_ms_ = static_cast<int>(config.get_int("keepalive_timeout_ms"));
    min_client_ping_interval_ms_ = static_cast<int>(config.get_int("min_client_ping_interval_ms"));
    certificate_ = chat::tls::load_server_certificate(config);
    chat::tls::load_client_ca(config, certificate_);
    configure_callers();
    if (!(limits_.user_stream_messages_per_second > 0)) {
      config.reject("user_stream_messages_per_second", "must be more than 0");
    }
    if (!(limits_.user_stream_message_burst >= 1)) config.reject("user_stream_message_burst", "must be at least 1");

    // Published through the host (history-http serves them at /metrics);
    // registered now so that they show, at zero, from the first scrape.
    auto& metrics = *ctx_.metrics;
    commit_metrics_.emplace(CommitMetrics{
        metrics.counter("chat_messages_stored_total", "Chat messages stored (acknowledged to their senders)"),
        metrics.histogram("chat_store_commit_seconds", "Time to store one batch of messages (transaction and sync)",
                          {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
        metrics.counter("chat_store_failures_total", "Commits that failed; their messages were refused, not stored"),
    });
    open_streams_ = &metrics.gauge("chat_grpc_streams", "Open Chat streams (clients and bridges)");
    refused_calls_ = &metrics.counter("chat_grpc_unauthenticated_calls_total",
                                      "gRPC calls refused for lacking the service token or a client certificate");
  }

  void configure_postgres(const chathost::PluginConfig& config) {
    postgres_options_.url = config.get_string("database_url");
    if (postgres_options_.url.empty()) {
      config.reject("database_url", "must name the database with store = \"postgres\" (or set DATABASE_URL)");
    }
    postgres_options_.node_id = config.get_string("node_id");
    if (postgres_options_.node_id.empty()) {
      // The port tells apart nodes on one machine; a node on "any free
      // port" has none yet, and its process id does instead.
      char name[256] = {};
      if (gethostname(name, sizeof name - 1) != 0) std::snprintf(name, sizeof name, "localhost");
      const auto port = config.get_int("port");
      postgres_options_.node_id =
          std::string(name) + ":" + (port != 0 ? std::to_string(port) : "pid" + std::to_string(getpid()));
    }
    if (postgres_options_.node_id.size() > 200 || postgres_options_.node_id.find('\n') != std::string::npos) {
      config.reject("node_id", "must be one line of at most 200 bytes");
    }
    postgres_options_.reader_connections = static_cast<int>(config.get_int("database_readers"));
    postgres_options_.presence_lease = std::chrono::seconds(config.get_int("presence_lease_seconds"));
  }

  std::unique_ptr<chat::store::HistoryStore> open_store() const {
    try {
      if (store_kind_ == "sqlite") return chat::store::open_sqlite_store(store_path_, sqlite_options_);
      if (store_kind_ == "postgres") return chat::store::open_postgres_store(postgres_options_);
      return chat::store::make_memory_store();
    } catch (const chat::store::StoreError& e) {
      // Before the port opens: the host logs this once and exits non-zero.
      if (store_kind_ == "postgres") {
        throw std::runtime_error("cannot open the store: " + ctx_.config.origin("database_url") +
                                 ": database_url: " + e.what());
      }
      throw std::runtime_error("cannot open the store: " + ctx_.config.origin("store_path") + ": store_path \"" +
                               store_path_ + "\": " + e.what());
    }
  }

  // SERVING while started and the store answers: a database server that is
  // down makes the node NOT_SERVING, so bridges and load balancers look
  // elsewhere, until it answers again.
  void store_answers(bool answers) {
    std::lock_guard lock(health_mutex_);
    if (store_answers_ == answers) return;
    store_answers_ = answers;
    if (answers) {
      ctx_.logger->info("serving again: the store answers");
    } else {
      ctx_.logger->warn("not serving (gRPC health) until the store can be reached again");
    }
    publish_health_locked();
  }

  void publish_health_locked() {
    if (!server_) return;
    const bool serving = serving_ && store_answers_;
    auto* health = server_->GetHealthCheckService();
    health->SetServingStatus(kServiceName, serving);
    health->SetServingStatus("", serving);
  }

  // Other chat nodes commit to the same rooms: their messages reach this
  // node's members from the store, woken by the store's notifications.
  void watch_other_nodes() {
    auto log = ctx_.logger;
    store_->watch({
        .committed_elsewhere = [this](const std::string& room_id) { rooms_->catch_up(room_id); },
        .catch_up = [this] { rooms_->catch_up_all(); },
        .listening_changed =
            [log](const std::string& trouble) {
              if (trouble.empty()) {
                log->info("hearing other chat nodes' commits again; catching up");
              } else {
                log->warn("not hearing other chat nodes' commits ({}); they will be read once it is back", trouble);
              }
            },
        .tick = [this] { rooms_->catch_up_behind(); },
        .presence_elsewhere = [this](const std::string& room_id, const std::string& user, const std::string& node,
                                     bool joined) { rooms_->presence_elsewhere(room_id, user, node, joined); },
        .typing_elsewhere = [this](const std::string& room_id, const std::string& user,
                                   bool stopped) { rooms_->typing_elsewhere(room_id, user, stopped); },
    });
  }

  std::string describe_store() const {
    if (store_kind_ == "sqlite") return "sqlite store " + store_path_;
    if (store_kind_ == "postgres") return "postgres store, node " + postgres_options_.node_id;
    return "memory store";
  }

  void start() override {
    auto& log = ctx_.logger;
    store_ = open_store();
    rooms_ = std::make_unique<RoomRegistry>(*store_, limits_);
    if (store_->shared()) watch_other_nodes();
    committer_ = std::make_unique<MessageCommitter>(*store_, *rooms_, limits_.max_batch, log, *commit_metrics_,
                                                    [this](bool answers) { store_answers(answers); });
    service_ = std::make_unique<ChatServiceImpl>(*store_, *rooms_, *committer_, limits_, *callers_, admin_, log,
                                                 *open_streams_, *refused_calls_);

    // The health service answers anyone (SERVING or not, nothing more): the
    // bridges and load balancers ask it before they have a stream.
    grpc::EnableDefaultHealthCheckService(true);
    // Reflection lists every service and message: on loopback a help for
    // grpcurl, beyond it a map for an attacker, so off there unless asked.
    // Linking gRPC's reflection library registers its plugin for every
    // server of the process; NoReflection takes it out of this one.
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    if (!reflection_) builder.SetOption(std::make_unique<NoReflection>());
    // gRPC shares ports by default; a second server on our port must fail instead.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // A client that stops answering (a frozen bridge host, a link gone
    // without a reset) is dropped after the keepalive's ping times out: its
    // streams end, and its users leave their rooms, instead of holding them
    // forever. Pings go on however long no data flows, and the clients'
    // own keepalive pings are welcome down to min_client_ping_interval_ms.
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_time_ms_);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_timeout_ms_);
    builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, min_client_ping_interval_ms_);
    builder.AddListeningPort(listen_address_, chat::tls::server_credentials(certificate_), &bound_port_);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(max_receive_bytes_);
    server_ = builder.BuildAndStart();
    if (!server_ || bound_port_ == 0) {
      stop_parts();
      throw std::runtime_error("cannot listen on " + listen_address_ + " (address in use or not local)");
    }
    {
      std::lock_guard lock(health_mutex_);
      serving_ = true;
      publish_health_locked();
    }
    if (retention_.max_messages_per_room > 0 || retention_.max_age.count() > 0) {
      sweeper_ = std::make_unique<RetentionSweeper>(*store_, retention_, log);
    }
    if (!certificate_) {
      // Bridges of this host reach the service without a socket; the same
      // calls, the same caller checks.
      chat::in_process::publish(listen_host_, bound_port_, [server = server_.get()](const grpc::ChannelArguments& args) {
        return server->InProcessChannel(args);
      });
      published_in_process_ = true;
    }
    log->info("serving chat.ChatService on {} ({}{}; callers authenticated by {}; reflection {}{})",
              endpoints().front(), describe_store(),
              certificate_ ? "; TLS, certificate " + certificate_->cert_file : "", callers_->describe(),
              reflection_ ? "on" : "off", published_in_process_ ? "; in-process for bridges of this host" : "");
  }

  void stop() override {
    {
      std::lock_guard lock(health_mutex_);
      serving_ = false;
      publish_health_locked();
    }
    stop_parts();
    auto stats = committer_stats_;
    ctx_.logger->info("stopped after storing {} messages in {} commits", stats.committed, stats.batches);
  }

  std::vector<std::string> endpoints() const override {
    if (bound_port_ == 0) return {"grpc://" + listen_address_};
    return {"grpc://" + chat::net::host_port(listen_host_, bound_port_)};
  }

 private:
  // Who may call (caller_policy.hpp), and whether the port may listen
  // beyond loopback with that.
  void configure_callers() {
    const auto& config = ctx_.config;
    std::optional<chat::service_auth::ServiceToken> token;
    if (auto text = chat::service_auth::load_service_token(config, *ctx_.logger); !text.empty()) token.emplace(text);
    std::optional<chat::service_auth::ServiceToken> host_secret;
    if (!ctx_.host_secret.empty()) host_secret.emplace(ctx_.host_secret);
    const bool client_certificates = certificate_ && !certificate_->client_ca_pem.empty();
    callers_.emplace(std::move(token), std::move(host_secret), client_certificates);
    if (!loopback_only_ && !callers_->authenticates()) {
      if (!config.get_bool("allow_unauthenticated")) {
        config.reject("host",
                      "\"" + config.get_string("host") +
                          "\" is reachable from the network, and every caller would be anyone: set "
                          "service_token_file (CHAT_SERVICE_TOKEN_FILE) and/or tls_client_ca_file "
                          "(GRPC_TLS_CLIENT_CA_FILE), or allow_unauthenticated = true on a trusted private network "
                          "(docs/security.md)");
      }
      ctx_.logger->warn("listening on {} with no caller authentication (allow_unauthenticated): anyone who reaches "
                        "the port may call as any user",
                        listen_address_);
    }
    const auto reflection = config.get_string("reflection");
    reflection_ = reflection == "on" || (reflection == "auto" && loopback_only_);
  }

  // Keeps gRPC's reflection plugin, registered for every server of the
  // process, off one server.
  class NoReflection final : public grpc::ServerBuilderOption {
   public:
    void UpdateArguments(grpc::ChannelArguments* /*args*/) override {}
    void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
      plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                    [](const auto& plugin) { return plugin->name() == "proto_server_reflection"; }),
                     plugins->end());
    }
  };

  // Drains in dependency order: no new messages, commit what was sent,
  // finish every stream, stop the server, close the store.
  void stop_parts() {
    if (published_in_process_) {
      chat::in_process::withdraw(bound_port_);
      published_in_process_ = false;
    }
    if (service_) service_->begin_drain();
    if (committer_) {
      committer_->stop();
      committer_stats_ = committer_->stats();
    }
    if (rooms_) {
      rooms_->finish_all(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the chat service is stopping"));
      if (!rooms_->wait_all_ended(std::chrono::steady_clock::now() + drain_timeout_)) {
        ctx_.logger->warn("streams still open after {} ms; cancelling them", drain_timeout_.count());
      }
    }
    if (server_) {
      // Every stream has ended (or we waited long enough). Give the
      // transports a moment to flush the last statuses, then cancel what is
      // left and drop idle connections rather than wait for clients to hang up.
      server_->Shutdown(std::chrono::system_clock::now() + kFlushGrace);
      server_->Wait();
    }
    if (store_) store_->stop_watching();  // before the rooms it delivers to go
    sweeper_.reset();
    server_.reset();
    service_.reset();
    committer_.reset();
    rooms_.reset();
    store_.reset();
  }

  chathost::PluginContext ctx_;
  std::string listen_host_;     // as configured
  std::string listen_address_;  // host:port, IPv6 in brackets
  bool loopback_only_ = true;
  bool reflection_ = true;
  std::optional<CallerPolicy> callers_;
  AdminIdentity admin_;
  std::string store_kind_;  // sqlite, postgres or memory
  std::string store_path_;
  chat::store::SqliteOptions sqlite_options_;
  chat::store::PostgresOptions postgres_options_;
  chat::store::Retention retention_;
  ServiceLimits limits_;
  int max_receive_bytes_ = 64 * 1024;
  std::chrono::milliseconds drain_timeout_{5000};
  int keepalive_time_ms_ = 30000;
  int keepalive_timeout_ms_ = 20000;
  int min_client_ping_interval_ms_ = 10000;
  // Set: the port speaks TLS only (tls_cert_file, tls_key_file).
  std::optional<chat::tls::ServerCertificate> certificate_;
  int bound_port_ = 0;
  bool published_in_process_ = false;  // in in_process_services.hpp's list
  CommitStats committer_stats_;
  std::optional<CommitMetrics> commit_metrics_;
  chathost::Gauge* open_streams_ = nullptr;
  chathost::Counter* refused_calls_ = nullptr;

  std::mutex health_mutex_;
  bool serving_ = false;       // guarded by health_mutex_: started, not stopping
  bool store_answers_ = true;  // guarded by health_mutex_
  std::unique_ptr<chat::store::HistoryStore> store_;
  std::unique_ptr<RoomRegistry> rooms_;
  std::unique_ptr<MessageCommitter> committer_;
  std::unique_ptr<ChatServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<RetentionSweeper> sweeper_;
};

}  // namespace

CHATHOST_PLUGIN(GrpcChatPlugin)
