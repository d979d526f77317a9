#include "config_keys.hpp"

#include "chat_service.hpp"
#include "service_limits.hpp"

#include "net/listen_address.hpp"
#include "service_auth/service_auth_config.hpp"
#include "tls/tls_config.hpp"

namespace chat::service {

using chathost::ConfigKey;

std::vector<ConfigKey> grpc_chat_config_keys() {
  auto keys = chat::net::listen_config_keys("GRPC", 50051,
                                            "address to listen on; beyond loopback only with service_token_file or "
                                            "tls_client_ca_file (or allow_unauthenticated)");
  std::vector<ConfigKey> service_keys{
      ConfigKey::string("admin_id", "admin", "user id of the administrator, whom GetUser always knows")
          .env("ADMIN_ID")
          .into(&AdminIdentity::id),
      ConfigKey::string("admin_name", "Administrator", "display name of the administrator").env("ADMIN_NAME")
          .into(&AdminIdentity::name),
      ConfigKey::string("admin_email", "admin@localhost", "e-mail address of the administrator")
          .env("ADMIN_EMAIL")
          .into(&AdminIdentity::email),
      ConfigKey::string("store", "sqlite",
                        "where messages live: sqlite (durable, one chat node), postgres (durable, shared by "
                        "several chat nodes) or memory (lost at exit)")
          .one_of({"sqlite", "postgres", "memory"})
          .env("CHAT_STORE"),
      ConfigKey::string("database_url", "",
                        "with store = \"postgres\": a libpq connection URI, postgresql://user@host:port/db; "
                        "several hosts with target_session_attrs=read-write find the primary. The password "
                        "comes from it, PGPASSFILE or a client certificate, and is never logged")
          .env("DATABASE_URL"),
      ConfigKey::string("node_id", "",
                        "this chat node's name among those sharing the database (empty: host name and port)")
          .env("CHAT_NODE_ID"),
      ConfigKey::integer("database_readers", 4, "connections that read history from PostgreSQL").range(1, 64),
      ConfigKey::integer("presence_lease_seconds", 15,
                         "with several chat nodes: how long a node's users stay present after it dies")
          .range(3, 3600),
      ConfigKey::string("store_path", "data/chat.db", "SQLite database file, created on first start")
          .env("CHAT_STORE_PATH"),
      ConfigKey::string("sync", "full",
                        "full: an acknowledged message survives power loss; normal: survives a crash of the process")
          .one_of({"full", "normal"}),
      ConfigKey::integer("max_content_bytes", 4096, "longest message content accepted").range(1, 1 << 20)
          .into(&ServiceLimits::max_content_bytes),
      ConfigKey::integer("max_receive_bytes", 64 * 1024, "largest gRPC message accepted from a client")
          .range(1024, 64 << 20),
      ConfigKey::integer("retention_max_messages", 0, "messages kept per room, newest first (0: all)")
          .range(0, INT64_MAX),
      ConfigKey::integer("retention_max_age_seconds", 0, "age after which messages are removed (0: never)")
          .range(0, INT64_MAX),
      ConfigKey::integer("max_replay", 10000, "most messages replayed on a join with since; more is a history gap")
          .range(1, 1000000)
          .into(&ServiceLimits::max_replay),
      ConfigKey::integer("max_batch", 1024, "most messages stored in one commit").range(1, 100000)
          .into(&ServiceLimits::max_batch),
      ConfigKey::integer("stream_queue_limit", 100000, "events queued for one stream before it is dropped as too slow")
          .range(16, 10000000)
          .into(&ServiceLimits::stream_queue_limit),
      ConfigKey::integer("drain_timeout_ms", 5000, "how long stopping waits for streams to finish").range(0, 600000),
      ConfigKey::integer("keepalive_time_ms", 30000,
                         "ping each client connection this often, also with no call open")
          .range(1000, 24 * 3600 * 1000),
      ConfigKey::integer("keepalive_timeout_ms", 20000,
                         "a ping unanswered (or data unacknowledged) for this long drops the connection and "
                         "ends its streams")
          .range(1000, 3600 * 1000),
      ConfigKey::integer("min_client_ping_interval_ms", 10000,
                         "clients may ping this often without sending data (more often: GOAWAY too_many_pings); "
                         "at most the bridges' chat_keepalive_time_ms")
          .range(100, 24 * 3600 * 1000),
  };
  for (auto& key : service_keys) keys.push_back(std::move(key));
  for (auto& key : chat::tls::server_config_keys("GRPC", "the gRPC port")) keys.push_back(std::move(key));
  keys.push_back(chat::tls::client_ca_config_key());
  keys.push_back(chat::service_auth::service_token_file_key(
      "callers must present it (the bridges do); empty: only this host's own bridges may speak for many users"));
  keys.push_back(ConfigKey::boolean("allow_unauthenticated", false,
                                    "listen beyond loopback with neither service token nor client CA: for a "
                                    "trusted private network only (logs a warning)"));
  keys.push_back(ConfigKey::string("reflection", "auto",
                                   "gRPC server reflection: auto (on when listening on loopback only), on, off")
                     .one_of({"auto", "on", "off"}));
  keys.push_back(ConfigKey::integer("max_history_page_bytes", 4 << 20,
                                    "bytes of one GetChatHistory page at most (content plus 256 a message): a "
                                    "longer page ends early with has_more")
                     .range(4096, 1 << 30)
          .into(&ServiceLimits::max_history_page_bytes));
  keys.push_back(ConfigKey::integer("presence_list_max", 500,
                                    "names in the presence snapshot a joiner gets at most; online_count tells "
                                    "how many are in the room")
                     .range(0, 1000000)
          .into(&ServiceLimits::presence_list_max));
  keys.push_back(ConfigKey::integer("max_memberships_per_stream", 1000000,
                                    "(room, user) memberships one stream may hold, a bridge's too")
                     .range(1, 100000000)
          .into(&ServiceLimits::max_memberships_per_stream));
  keys.push_back(ConfigKey::integer("user_stream_max_rooms", 100,
                                    "rooms a stream of a caller without the service token may be in "
                                    "(such a stream is one user)")
                     .range(1, 1000000)
          .into(&ServiceLimits::user_stream_max_rooms));
  keys.push_back(ConfigKey::number("user_stream_messages_per_second", 50,
                                   "frames a second such a stream may send, sustained (RATE_LIMITED beyond)")
          .into(&ServiceLimits::user_stream_messages_per_second));
  keys.push_back(ConfigKey::number("user_stream_message_burst", 100, "frames such a stream may send at once")
          .into(&ServiceLimits::user_stream_message_burst));
  keys.push_back(ConfigKey::integer("user_stream_rate_limit_strikes", 50,
                                    "frames refused for rate in a row before such a stream is ended "
                                    "(RESOURCE_EXHAUSTED)")
                     .range(1, 1000000)
          .into(&ServiceLimits::user_stream_rate_limit_strikes));
  return keys;
}

}  // namespace chat::service
