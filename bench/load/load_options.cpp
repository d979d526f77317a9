#include "load_options.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>

#include <algorithm>
#include <charconv>
#include <sstream>

namespace chathost::bench {

namespace po = boost::program_options;

namespace {

constexpr const char* kUsage = R"(chat-load: WebSocket load generator for chat-host and the exercise's Node peer.

It speaks only the exercise's frame,
  {"chat_message":{"id":..,"room_id":"room-K","sender_id":"client-I","content":..}}
and counts every chat_message that comes back with its own content; other
frames (ack, presence, joined, service_status, ...) are ignored, "error"
frames are counted as errors. A client joins its room by sending one message
(the exercise's proxy and chat-host's both join on send).

Usage:
  chat-load [options]                          fan-out: deliveries/s, ratio, latency
  chat-load --idle --clients N [options]       RSS per idle connection of each --pid
  chat-load --seed-room R --seed-count N       put N messages into room R, then exit

Fan-out: N clients, spread evenly over R rooms (client i in room i mod R) and
round-robin over the URLs; the first S clients send, together `--rate`
messages/s. Every client sends one join message first; then warm-up, then
the measured window. Expected deliveries = sum over messages sent in the
window of their room's member count (the sender included). Latency is from
the send time carried in the message to its receipt (steady clock, so
several generator processes on one machine agree).

Limits: this machine caps one process at 20,000 open files, and one source
address reaches one server address:port through about 28,000 ephemeral
ports. For more connections, run several chat-load processes at once (each
with its own --client-offset), each with several --source-addresses
(127.0.0.2,127.0.0.3,...: all of 127/8 is loopback), against several proxy
hosts (several --url).

Output: a table; with --json, one JSON line on stdout and the table on stderr.
Exit status: 0 when the run completed (whatever the figures), 1 when no client
could connect, 2 for a bad command line.

Options)";

std::vector<std::string> split_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& value : values) {
    std::stringstream stream(value);
    std::string item;
    while (std::getline(stream, item, ',')) {
      if (!item.empty()) out.push_back(item);
    }
  }
  return out;
}

WatchedProcess parse_process(const std::string& text) {
  WatchedProcess process;
  auto equals = text.find('=');
  std::string pid_text = equals == std::string::npos ? text : text.substr(equals + 1);
  process.name = equals == std::string::npos ? "pid" + text : text.substr(0, equals);
  int pid = 0;
  auto [end, ec] = std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
  if (ec != std::errc{} || end != pid_text.data() + pid_text.size() || pid <= 0 || process.name.empty()) {
    throw UsageError("--pid expects NAME=PID, got '" + text + "'");
  }
  process.pid = pid;
  return process;
}

void require(bool condition, const std::string& message) {
  if (!condition) throw UsageError(message);
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const* argv) {
  CommandLine command;
  auto& o = command.options;
  std::vector<std::string> urls;
  std::vector<std::string> sources;
  std::vector<std::string> pids;

  po::options_description description(kUsage, 100, 50);
  // clang-format off
  description.add_options()
    ("help,h", "this text")
    ("url,u", po::value(&urls)->composing(),
     "target WebSocket URL ws://HOST:PORT/PATH; repeat or comma-separate for several proxy hosts "
     "(clients round-robin) [ws://127.0.0.1:8080/]")
    ("clients,n", po::value(&o.clients)->default_value(o.clients), "connections")
    ("rooms,r", po::value(&o.rooms)->default_value(o.rooms), "rooms (clients spread evenly)")
    ("senders,s", po::value(&o.senders)->default_value(o.senders), "sending clients; 0: all")
    ("rate", po::value(&o.rate)->default_value(o.rate), "messages/s, all senders together")
    ("size", po::value(&o.size)->default_value(o.size),
     "content bytes per message (at least the ~45-byte header it carries)")
    ("warmup", po::value(&o.warmup_s)->default_value(o.warmup_s), "seconds sent but not measured")
    ("duration,d", po::value(&o.duration_s)->default_value(o.duration_s), "seconds measured")
    ("drain", po::value(&o.drain_s)->default_value(o.drain_s),
     "longest wait for late deliveries after the window, seconds")
    ("report-every", po::value(&o.report_every_s)->default_value(o.report_every_s),
     "fan-out: every this many seconds of the window, print that interval's deliveries/s, latency, "
     "errors and each --pid's RSS (0: only the totals)")
    ("threads,t", po::value(&o.threads)->default_value(o.threads), "threads, one io_context each")
    ("source-addresses", po::value(&sources)->composing(),
     "bind client sockets to these local IPv4 addresses, round-robin (e.g. 127.0.0.2,127.0.0.3)")
    ("connect-timeout", po::value(&o.connect_timeout_s)->default_value(o.connect_timeout_s),
     "seconds for all connections to open")
    ("connect-concurrency", po::value(&o.connect_concurrency)->default_value(o.connect_concurrency),
     "connection attempts in flight")
    ("room-prefix", po::value(&o.room_prefix)->default_value(o.room_prefix), "room K is PREFIX + K")
    ("sender-prefix", po::value(&o.sender_prefix)->default_value(o.sender_prefix),
     "client I's sender_id is PREFIX + I")
    ("client-offset", po::value(&o.client_offset)->default_value(o.client_offset),
     "number of the first client (distinct sender ids across generator processes)")
    ("idle", "idle mode: open --clients connections, ping them, report RSS per connection")
    ("hold", po::value(&o.hold_s)->default_value(o.hold_s), "idle mode: seconds to hold the connections")
    ("ping-interval", po::value(&o.ping_interval_s)->default_value(o.ping_interval_s),
     "idle mode: seconds between WebSocket pings of each connection")
    ("idle-join", "idle mode: each connection first sends one message to join its room")
    ("seed-room", po::value(&o.seed_room), "seed mode: room to put messages into")
    ("seed-count", po::value(&o.seed_count)->default_value(o.seed_count), "seed mode: messages to send")
    ("pid", po::value(&pids)->composing(),
     "NAME=PID of a server process: CPU time over the window and RSS at the end (repeatable)")
    ("json", "one JSON line on stdout (the table goes to stderr)");
  // clang-format on

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(description).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }

  std::ostringstream help;
  help << description;
  command.help_text = help.str();
  if (vm.count("help")) {
    command.help = true;
    return command;
  }

  if (!urls.empty()) o.urls = split_list(urls);
  o.source_addresses = split_list(sources);
  for (const auto& pid : split_list(pids)) o.processes.push_back(parse_process(pid));
  o.json = vm.count("json") > 0;
  o.idle_join = vm.count("idle-join") > 0;
  if (vm.count("idle")) o.mode = Mode::Idle;
  if (vm.count("seed-room")) {
    require(o.mode != Mode::Idle, "--idle and --seed-room exclude each other");
    o.mode = Mode::Seed;
    require(!o.seed_room.empty(), "--seed-room needs a room name");
    require(o.seed_count > 0, "--seed-room needs --seed-count N > 0");
    o.clients = 1;
    o.rooms = 1;
  }

  require(!o.urls.empty(), "--url needs at least one URL");
  for (const auto& url : o.urls) require(url.starts_with("ws://"), "only ws:// URLs are supported, got '" + url + "'");
  for (const auto& address : o.source_addresses) {
    boost::system::error_code ec;
    auto parsed = boost::asio::ip::make_address(address, ec);
    require(!ec && parsed.is_v4(), "--source-addresses expects IPv4 addresses, got '" + address + "'");
  }
  require(o.clients > 0, "--clients must be at least 1");
  if (vm["rooms"].defaulted()) o.rooms = std::min(o.rooms, o.clients);
  require(o.rooms > 0 && o.rooms <= o.clients, "--rooms must be between 1 and --clients");
  require(o.senders <= o.clients, "--senders must not exceed --clients");
  if (o.senders == 0) o.senders = o.clients;
  require(o.rate > 0, "--rate must be positive");
  require(o.warmup_s >= 0 && o.duration_s > 0 && o.drain_s >= 0, "--warmup, --drain >= 0 and --duration > 0");
  require(o.duration_s + o.warmup_s <= 3600, "a run is at most an hour");
  require(o.hold_s >= 0 && o.hold_s <= 3600, "--hold must be between 0 and 3600 seconds");
  require(o.ping_interval_s > 0, "--ping-interval must be positive");
  require(o.threads >= 1 && o.threads <= 64, "--threads must be between 1 and 64");
  require(o.connect_concurrency >= 1, "--connect-concurrency must be at least 1");
  require(o.connect_timeout_s > 0, "--connect-timeout must be positive");
  require(o.size <= 1 << 20, "--size must be at most 1 MiB");
  return command;
}

}  // namespace chathost::bench
