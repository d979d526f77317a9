#!/usr/bin/env bash
# compare.sh: one scenario against chat-host ("ours"), the exercise's Node
# peer ("peer") and the bare fan-out yardstick ("limit": what this machine
# can do at best, ../shared/yardsticks/limit-fanout) in the same run,
# alternating peer, limit, ours, peer, limit, ours, ... on the same ports
# (50051, 8080, 8081): start one system, measure, stop it, start the next.
# Prints each run, the median of each system and ours as a ratio of each.
# The yardstick speaks WebSocket fan-out only: it takes part in fanout,
# latency and idle, not in history.
#
#   bench/compare.sh SCENARIO [options]
#
# Scenarios (100-byte messages unless --size):
#   fanout    1,000 clients in 10 rooms; for each rate of --rates, lowest first,
#             a run of --warmup + --duration s, until deliveries go missing;
#             the figure is deliveries/s at the highest rate with delivery
#             ratio >= 0.999 and p99 < 50 ms (each run also shows the most
#             deliveries/s with ratio >= 0.999 whatever the latency)
#   latency   1,000 clients in 10 rooms at 1,000 messages/s: p99 latency, ms,
#             messages never delivered counting as arriving when the drain ended
#             (so an overloaded system cannot look fast by delivering little)
#   idle      --connections idle WebSocket connections, pinged: RSS per
#             connection of the server processes together, KiB
#   history   GET /history?room=R&limit=100 with wrk after seeding R with 100
#             messages (bench/history_load.sh): requests/s
#   ingest    chat-ingest with its defaults (4 streams, window 512, 100 bytes,
#             2 s warm-up, 10 s) against grpc-chat alone, SQLite with
#             sync = "full" as shipped, the streams presenting a service
#             token as a bridge's do: acknowledged messages/s. After each run
#             the store must hold every acknowledged message (a count of its
#             rows; not with --store memory). The peer keeps nothing
#             durable: ours and --baseline only
#
# Options:
#   --only peer|ours|limit|baseline   run these systems only (one, or several
#                         comma-separated: --only ours,baseline)
#   --baseline REV        also run chat-host as of commit REV ("baseline"),
#                         built (release) from `git archive REV` into
#                         ~/.cache/chat-host-bench/baseline-<commit> once, with
#                         the same config and generator as ours
#   --runs N              runs of each system [3]
#   --store sqlite|memory|postgres
#                         grpc-chat's store for ours [sqlite, as shipped];
#                         postgres: a throwaway server (scripts/throwaway-postgres.sh)
#                         on a free loopback port for the whole run, its table
#                         emptied before each run of ours
#   --rates LIST          fanout: messages/s to try, ascending
#                         [10,20,30,40,50,75,100,...,10000]
#   --rate N              latency: messages/s [1000]
#   --clients N --rooms N --size N --warmup S --duration S
#                         fanout/latency shape [1000, 10, 100, 5, 5; latency: duration 10]
#   --connections N       idle: connections [19000; one generator process may hold 19,900]
#   --hold S              idle: seconds to hold them [10]
#   --threads N           chat-load threads [1]
#   --build DIR           build tree with bin/chat-host, bin/chat-load [build/release]
#   --ours-config FILE    chat-host config to use instead of the generated one
#   --peer DIR            the Node peer [../shared/peers/node-tp5 beside the repo]
#   --limit DIR           the yardstick's source [../shared/yardsticks/limit-fanout beside
#                         the repo]; built once (Release) into ~/.cache/chat-host-bench,
#                         run with one shard per core and batched writes
#   --out DIR             keep logs and raw JSON here [a new /tmp/chat-compare.* dir]
#
# Example (what docs/performance.md records):
#   bench/compare.sh fanout
#   bench/compare.sh latency --only peer
#   bench/compare.sh fanout --only limit --runs 1
#
# Needs: chat-load built (cmake --build --preset release --target chat-load),
# jq, curl, wrk for history, node/npm for the peer. Runs on loopback only;
# every process it starts, it stops (also on Ctrl-C).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"

scenario="${1:-}"
case "$scenario" in
  fanout|latency|idle|history|ingest) shift ;;
  -h|--help) usage; exit 0 ;;
  *) echo "compare.sh: first argument is the scenario: fanout, latency, idle, history or ingest (--help)" >&2; exit 2 ;;
esac

only=""
runs=3
store=sqlite
rates="10,20,30,40,50,75,100,125,150,200,250,300,400,500,750,1000,1500,2000,3000,4000,5000,6000,7500,10000"
rate=1000
clients=1000
rooms=10
size=100
warmup=5
duration=""
connections=19000
hold=10
threads=1
build="$root/build/release"
ours_config=""
baseline=""
peer_src="$(cd "$root/.." && pwd)/shared/peers/node-tp5"
limit_src="$(cd "$root/.." && pwd)/shared/yardsticks/limit-fanout"
out=""
while (($#)); do
  if set_option "only runs store rates rate clients rooms size warmup duration connections hold threads out baseline" "$@"; then
    shift 2
    continue
  fi
  case "$1" in
    --build) build="$(cd "$2" && pwd)"; shift 2 ;;
    --ours-config) ours_config="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --peer) peer_src="$(cd "$2" && pwd)"; shift 2 ;;
    --limit) limit_src="$(cd "$2" && pwd)"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done
# --only takes one system or several, comma-separated.
only_has() { [[ -z "$only" || ",$only," == *",$1,"* ]]; }
for system in ${only//,/ }; do
  [[ "$system" == peer || "$system" == ours || "$system" == limit || "$system" == baseline ]] ||
    { echo "compare.sh: --only takes peer, ours, limit or baseline (or several, comma-separated)" >&2; exit 2; }
done
[[ ",$only," != *",baseline,"* || -n "$baseline" ]] || { echo "compare.sh: --only baseline needs --baseline REV" >&2; exit 2; }
[[ "$scenario" != ingest || ( ",$only," != *",peer,"* && ",$only," != *",limit,"* ) ]] ||
  { echo "compare.sh: ingest measures chat-host only (ours, --baseline)" >&2; exit 2; }
[[ ",$only," != *",limit,"* || "$scenario" != history ]] || { echo "compare.sh: the yardstick serves no history" >&2; exit 2; }
[[ "$store" == sqlite || "$store" == memory || "$store" == postgres ]] ||
  { echo "compare.sh: --store takes sqlite, memory or postgres" >&2; exit 2; }
if [[ -z "$duration" ]]; then
  if [[ "$scenario" == latency ]]; then duration=10; else duration=5; fi
fi

systems=()
! only_has peer || [[ "$scenario" == ingest ]] || systems+=(peer)
! only_has limit || [[ "$scenario" == history || "$scenario" == ingest ]] || systems+=(limit)
[[ -z "$baseline" ]] || ! only_has baseline || systems+=(baseline)
! only_has ours || systems+=(ours)

# --- what each system needs, checked before anything starts ---------------------

chat_load="$build/bin/chat-load"
chat_host="$build/bin/chat-host"
plugin_dir="$build/lib/chat-host/plugins"
problems=()
[[ -x "$chat_load" ]] || problems+=("no chat-load at $chat_load: cmake --preset release && cmake --build --preset release --target chat-load")
for tool in jq curl; do command -v "$tool" >/dev/null || problems+=("needs $tool: sudo apt-get install -y $tool"); done
[[ "$scenario" != history ]] || command -v wrk >/dev/null || problems+=("needs wrk: sudo apt-get install -y wrk")
[[ "$store" != postgres ]] || command -v psql >/dev/null || problems+=("--store postgres needs PostgreSQL: sudo apt-get install -y postgresql")
chat_ingest="$build/bin/chat-ingest"
if [[ "$scenario" == ingest ]]; then
  [[ -x "$chat_ingest" ]] || problems+=("no chat-ingest at $chat_ingest: cmake --build --preset release --target chat-ingest")
  [[ "$store" != sqlite ]] || command -v sqlite3 >/dev/null || problems+=("ingest counts the stored rows with sqlite3: sudo apt-get install -y sqlite3")
fi
baseline_sha=""
if [[ -n "$baseline" ]]; then
  baseline_sha=$(git -C "$root" rev-parse --verify --quiet "$baseline^{commit}") || problems+=("--baseline: no commit $baseline in $root")
fi
if [[ " ${systems[*]} " == *" peer "* ]]; then
  [[ -x "$peer_src/run.sh" ]] || problems+=("no Node peer at $peer_src (--peer DIR)")
  command -v node >/dev/null && command -v npm >/dev/null || problems+=("the Node peer needs node and npm: sudo apt-get install -y nodejs npm")
fi
if [[ " ${systems[*]} " == *" limit "* ]]; then
  [[ -f "$limit_src/CMakeLists.txt" ]] || problems+=("no yardstick at $limit_src (--limit DIR), or leave it out with --only")
fi
ours_plugins='"grpc-chat", "ws-proxy"'
if [[ "$scenario" == ingest ]]; then
  ours_plugins='"grpc-chat"'
elif [[ " ${systems[*]} " == *" ours "* ]]; then
  [[ -x "$chat_host" ]] || problems+=("no chat-host at $chat_host: cmake --build --preset release")
  if [[ -z "$ours_config" && ! -f "$plugin_dir/ws-proxy.so" ]]; then
    problems+=("ours: the ws-proxy plugin is not built (no $plugin_dir/ws-proxy.so); it is what clients connect to. Build it (cmake --build --preset release) once plugins/ws-proxy exists, or measure the peer alone with --only peer")
  fi
  if [[ -f "$plugin_dir/history-http.so" ]]; then
    ours_plugins+=', "history-http"'
  elif [[ "$scenario" == history && -z "$ours_config" ]]; then
    problems+=("ours: the history-http plugin is not built (no $plugin_dir/history-http.so): build it, or run with --only peer")
  fi
fi
if ((${#problems[@]})); then
  printf 'compare.sh: %s\n' "${problems[@]}" >&2
  exit 3
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=(50051 8080 8081)
for port in "${ports[@]}"; do
  if port_open "$port"; then
    echo "compare.sh: port $port is in use by another process; both systems need 50051, 8080 and 8081" >&2
    exit 3
  fi
done

out="${out:-$(mktemp -d "${TMPDIR:-/tmp}/chat-compare.XXXXXX")}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
results="$out/results.jsonl"
: >"$results"
# The peer's working copy (with node_modules) is kept between invocations, so npm ci runs once.
peer_dir="${XDG_CACHE_HOME:-$HOME/.cache}/chat-host-bench/node-tp5"

log() { echo "compare.sh: $*" >&2; }

# --- starting and stopping the systems; only PIDs started here are signalled ----

running_pids=()
pid_args=()
ours_pid=""

wait_gone() { # PID... : up to 10 s, then SIGKILL
  local deadline=$((SECONDS + 10)) pid
  for pid in "$@"; do
    while kill -0 "$pid" 2>/dev/null; do
      if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  done
}

wait_ports_free() {
  local deadline=$((SECONDS + 15)) port
  for port in "${ports[@]}"; do
    while port_open "$port"; do
      ((SECONDS < deadline)) || { log "port $port still in use after stopping"; return 1; }
      sleep 0.1
    done
  done
}

start_peer() {
  mkdir -p "$peer_dir"
  local line
  line=$(PEER_DIR="$peer_dir" "$peer_src/run.sh" 2>>"$out/peer-start.log") || {
    log "the Node peer did not start; see $out/peer-start.log"
    return 1
  }
  local _ server proxy
  read -r _ server proxy <<<"$line"
  running_pids=("$server" "$proxy")
  pid_args=(--pid "node-server=$server" --pid "node-proxy=$proxy")
}

# The yardstick, built once per source change into the cache, then run with
# one shard per core and batched writes: its best.
limit_dir="${XDG_CACHE_HOME:-$HOME/.cache}/chat-host-bench/limit-fanout"
start_limit() {
  local binary="$limit_dir/limit-fanout"
  if [[ ! -x "$binary" || "$limit_src/limit-fanout.cpp" -nt "$binary" ]]; then
    log "building the yardstick into $limit_dir"
    { cmake -S "$limit_src" -B "$limit_dir" -DCMAKE_BUILD_TYPE=Release && cmake --build "$limit_dir" -j "$(nproc)"; } \
      >"$out/limit-build.log" 2>&1 || { log "the yardstick did not build; see $out/limit-build.log"; return 1; }
  fi
  "$binary" --port 8080 --threads "$(nproc)" --batch on </dev/null >"$out/limit.log" 2>&1 &
  local pid=$!
  running_pids=("$pid")
  pid_args=(--pid "limit-fanout=$pid")
  local deadline=$((SECONDS + 10))
  until port_open 8080; do
    kill -0 "$pid" 2>/dev/null || { log "the yardstick exited; see $out/limit.log"; running_pids=(); return 1; }
    ((SECONDS < deadline)) || { log "the yardstick does not listen on 8080 after 10 s"; return 1; }
    sleep 0.05
  done
}

write_ours_config() { # [NAME] -> path
  local name="${1:-ours}"
  local config="$out/$name.toml"
  if [[ -n "$ours_config" ]]; then
    echo "$ours_config"
    return
  fi
  # The shipped defaults, on loopback, the same ports as the peer; the idle
  # scenario holds up to 19,000 connections, above the default cap. Ingest:
  # grpc-chat alone, wanting the service token its callers present.
  local token=""
  [[ "$scenario" != ingest ]] || token="$token_file"
  # A baseline from before service tokens takes every caller as a bridge.
  if [[ "$name" == baseline ]] && ! grep -rqs service_token_file "$baseline_dir/src/plugins/grpc-chat"; then token=""; fi
  {
    printf '# Generated by bench/compare.sh.\n[host]\nplugins = [%s]\nlog_level = "info"\n' "$ours_plugins"
    grpc_chat_table 50051 "$token" "$out/data/chat.db"
    printf 'store = "%s"\n' "$store"
    if [[ "$store" == postgres ]]; then printf 'database_url = "%s"\n' "$database_url"; fi
    if [[ "$ours_plugins" == *ws-proxy* ]]; then ws_proxy_table 8080 50051 ""; fi
    if [[ "$ours_plugins" == *history-http* ]]; then history_http_table 8081 50051 ""; fi
  } >"$config"
  echo "$config"
}

# --store postgres: one throwaway server for the run, stopped at the end.
database_url=""
pg_dir=""
start_postgres() {
  # Its own folder under /tmp, not inside $out: run as root, the server runs
  # as the user postgres, which cannot enter $out (mktemp's mode 700).
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/chat-compare-pg.XXXXXX")
  database_url=$("$root/scripts/throwaway-postgres.sh" start "$pg_dir" "$(free_port)" 2>>"$out/postgres.log") || {
    log "PostgreSQL did not start; see $out/postgres.log"
    return 1
  }
  log "ours: PostgreSQL at $(sed 's|//[^@]*@|//|' <<<"$database_url")"
}
stop_postgres() {
  [[ -n "$pg_dir" ]] || return 0
  "$root/scripts/throwaway-postgres.sh" stop "$pg_dir" >>"$out/postgres.log" 2>&1 || true
  rm -rf "$pg_dir"
}
# Each run of ours starts from an empty store, as with SQLite's fresh file.
empty_postgres() {
  [[ -z "$database_url" ]] || psql -q "$database_url" -c 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;' \
    >>"$out/postgres.log" 2>&1
}

# --baseline REV: that commit's chat-host, built once into the cache.
baseline_dir="${XDG_CACHE_HOME:-$HOME/.cache}/chat-host-bench/baseline-${baseline_sha:0:12}"
build_baseline() {
  [[ ! -x "$baseline_dir/build/bin/chat-host" ]] || return 0
  log "building $baseline (${baseline_sha:0:12}) into $baseline_dir (once)"
  rm -rf "$baseline_dir"
  mkdir -p "$baseline_dir/src"
  local targets=(chat-host plugin-grpc-chat)
  [[ "$scenario" == ingest ]] || targets+=(plugin-ws-proxy plugin-history-http)
  {
    git -C "$root" archive "$baseline_sha" | tar -x -C "$baseline_dir/src" &&
      cmake -S "$baseline_dir/src" -B "$baseline_dir/build" -DCMAKE_BUILD_TYPE=Release &&
      cmake --build "$baseline_dir/build" -j "$(nproc)" --target "${targets[@]}"
  } >"$out/baseline-build.log" 2>&1 || { log "$baseline did not build; see $out/baseline-build.log"; rm -rf "$baseline_dir"; return 1; }
}

# ours, or with a binary given, the baseline: the same config and store.
start_ours() { # RUN [BINARY NAME]
  local binary="${2:-$chat_host}" name="${3:-ours}"
  local config log_file="$out/$name-$1.log"
  config=$(write_ours_config "$name")
  rm -rf "$out/data"
  mkdir -p "$out/data"
  empty_postgres
  local ready=1
  start_host "$binary" "$config" "$log_file" || ready=0
  ours_pid=$started
  running_pids=("$ours_pid")
  pid_args=(--pid "chat-host=$ours_pid")
  ((ready)) || return 1
  log "$name: $(grep -m1 -o 'ready in.*' "$log_file")"
}

stop_running() {
  ((${#running_pids[@]})) || return 0
  kill -TERM "${running_pids[@]}" 2>/dev/null || true
  wait_gone "${running_pids[@]}"
  if [[ -n "$ours_pid" ]]; then wait "$ours_pid" 2>/dev/null || true; ours_pid=""; fi
  running_pids=()
  wait_ports_free
}
trap 'stop_running; stop_postgres' EXIT
trap 'exit 130' INT TERM

# --- one measurement: prints "FIGURE<tab>DETAIL" --------------------------------

chat_load_json() { # LABEL ARGS... -> the JSON line, also kept in results.jsonl
  local label="$1" line
  shift
  line=$("$chat_load" --json --threads "$threads" "${pid_args[@]}" "$@" 2>>"$out/chat-load.log") || {
    log "chat-load failed ($label); see $out/chat-load.log"
    return 1
  }
  jq -c --arg name "$label" '. + {"label": $name}' <<<"$line" >>"$results"
  echo "$line"
}

# Sum over the watched server processes.
servers_cpu='([.processes[].cpu_percent] | add)'
servers_rss='([.processes[].rss_kib] | add)'

measure_fanout() { # SYSTEM RUN
  # Up the rates until delivery fails (ratio < 0.999) or latency is hopeless
  # (p99 > 5 s). Two figures: the target's (ratio >= 0.999 and p99 < 50 ms)
  # and, for context, the most deliveries/s with ratio >= 0.999 whatever the latency.
  local best_rate=0 best="" top_rate=0 top="" line r verdict
  for r in ${rates//,/ }; do
    line=$(chat_load_json "$1 fanout run $2 rate $r" --clients "$clients" --rooms "$rooms" --rate "$r" \
      --size "$size" --warmup "$warmup" --duration "$duration" --room-prefix "fanout-$r-") || break
    verdict=$(jq -r '"ratio \(.delivery_ratio), p99 \(.latency_ms.p99) ms, \(.deliveries_per_s) deliveries/s"' <<<"$line")
    if ! jq -e '.delivery_ratio >= 0.999' <<<"$line" >/dev/null; then
      log "$1 run $2: $r msg/s: deliveries missing: $verdict"
      break
    fi
    top_rate=$r
    top=$line
    if jq -e '.latency_ms.p99 < 50' <<<"$line" >/dev/null; then
      log "$1 run $2: $r msg/s passes: $verdict"
      best_rate=$r
      best=$line
    else
      log "$1 run $2: $r msg/s: all delivered, p99 too high: $verdict"
      jq -e '.latency_ms.p99 < 5000' <<<"$line" >/dev/null || break
    fi
  done
  local context="no rate delivered everything"
  if [[ -n "$top" ]]; then
    context=$(jq -r --arg rate "$top_rate" '"most with ratio >= 0.999 whatever p99: \(.deliveries_per_s)/s at \($rate) msg/s (p99 \(.latency_ms.p99) ms)"' <<<"$top")
  fi
  if [[ -z "$best" ]]; then
    printf '0\tno rate met ratio >= 0.999 and p99 < 50 ms; %s\n' "$context"
    return
  fi
  jq -r --arg rate "$best_rate" --arg context "$context" \
    "\"\(.deliveries_per_s)\tat \(\$rate) msg/s: p99 \(.latency_ms.p99) ms, servers cpu \($servers_cpu)%, rss \($servers_rss) KiB; \(\$context)\"" <<<"$best"
}

measure_latency() {
  local line
  line=$(chat_load_json "$1 latency run $2" --clients "$clients" --rooms "$rooms" --rate "$rate" --size "$size" \
    --warmup "$warmup" --duration "$duration" --room-prefix "latency-") || return 1
  jq -r "\"\(.latency_ms.p99_with_missing)\tp99 of what arrived \(.latency_ms.p99) ms, p50 \(.latency_ms.p50) ms, p99.9 \(.latency_ms.p999) ms, ratio \(.delivery_ratio), \(.deliveries_per_s) deliveries/s, servers cpu \($servers_cpu)%\"" <<<"$line"
}

measure_idle() {
  local line sources="" i system_number=1
  [[ "$1" == peer ]] || system_number=2
  # Fresh source addresses each run: the last run's ports may still be in TIME_WAIT.
  for i in 2 3 4 5; do sources+="${sources:+,}127.$((10 + $2)).$system_number.$i"; done
  line=$(chat_load_json "$1 idle run $2" --idle --clients "$connections" --hold "$hold" --ping-interval 5 \
    --source-addresses "$sources") || return 1
  jq -r '"\(([.processes[] | (.rss_kib - .rss_before_kib)] | add) / .open_at_end | . * 100 | round / 100)\t\(.open_at_end) open: " +
         ([.processes[] | "\(.name) \(.rss_per_connection_kib) KiB/conn, rss \(.rss_kib) KiB"] | join("; "))' <<<"$line"
}

# Acknowledged messages/s (run in a subshell: the count of every ack for
# stored_check is read back from the results).
acked_total=""
measure_ingest() { # SYSTEM RUN
  local line
  line=$("$chat_ingest" --json --service-token-file "$token_file" "${pid_args[@]}" 2>>"$out/ingest.log") || {
    log "chat-ingest failed; see $out/ingest.log"
    return 1
  }
  jq -c --arg name "$1 ingest run $2" '. + {"label": $name}' <<<"$line" >>"$results"
  jq -r '"\(.acked_per_s)\t\(if .batches then "batches" else "one frame a message" end), p50 \(.p50_ms) ms, p99 \(.p99_ms) ms ack latency, chat-host \(.processes[0].cpu_percent)% of a core, \(.acked_total) acked in all"' <<<"$line"
}

# After an ingest run, with the host stopped: the store holds every message
# it acknowledged.
stored_check() { # SYSTEM RUN
  [[ "$scenario" == ingest && "$store" != memory ]] || return 0
  local rows
  if [[ "$store" == postgres ]]; then
    rows=$(psql -tA "$database_url" -c 'SELECT count(*) FROM messages' 2>>"$out/postgres.log") ||
      { log "cannot count the messages in PostgreSQL"; return 1; }
  else
    rows=$(sqlite3 "$out/data/chat.db" 'SELECT count(*) FROM messages') || { log "cannot count $out/data/chat.db"; return 1; }
  fi
  if ((rows < acked_total)); then
    log "$1 run $2: only $rows messages stored of $acked_total acknowledged"
    return 1
  fi
  log "$1 run $2: $rows messages stored, $acked_total acknowledged: none lost"
}

measure_history() {
  local line
  line=$("$here/history_load.sh" --json --chat-load "$chat_load" --room "history-$1-$2" 2>>"$out/history.log") || {
    log "history_load.sh failed; see $out/history.log"
    return 1
  }
  jq -c --arg name "$1 history run $2" '. + {"label": $name}' <<<"$line" >>"$results"
  jq -r '"\(.requests_per_s)\tp50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, \(.messages_per_response) messages per response, non-2xx \(.non_2xx)"' <<<"$line"
}

case "$scenario" in
  fanout) figure_name="deliveries/s at the highest passing rate"; higher_is_better=true ;;
  latency) figure_name="p99 latency, ms, at $rate msg/s, undelivered counted at the drain's end"; higher_is_better=false ;;
  idle) figure_name="RSS per idle connection, KiB (server processes together)"; higher_is_better=false ;;
  history) figure_name="GET /history requests/s"; higher_is_better=true ;;
  ingest) figure_name="acknowledged messages/s"; higher_is_better=true ;;
esac
if [[ "$scenario" == ingest ]]; then
  token_file="$out/service-token"
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$token_file")
fi
if [[ " ${systems[*]} " == *" baseline "* ]]; then build_baseline || exit 1; fi

log "scenario $scenario, ${#systems[@]} system(s) x $runs runs; logs and raw JSON in $out"
if [[ "$store" == postgres && " ${systems[*]} " == *" ours "* || "$store" == postgres && -n "$baseline" ]]; then
  start_postgres || exit 1
fi
declare -A figures
for ((run = 1; run <= runs; ++run)); do
  for system in "${systems[@]}"; do
    wait_ports_free
    case "$system" in
      peer) start_peer ;;
      limit) start_limit ;;
      ours) start_ours "$run" ;;
      baseline) start_ours "$run" "$baseline_dir/build/bin/chat-host" baseline ;;
    esac
    result=$("measure_$scenario" "$system" "$run") || { stop_running; exit 1; }
    [[ "$scenario" != ingest ]] || acked_total=$(jq -r 'select(.label == "'"$system ingest run $run"'") | .acked_total' "$results")
    stop_running
    stored_check "$system" "$run" || exit 1
    figure="${result%%$'\t'*}"
    log "$system run $run: $figure (${result#*$'\t'})"
    printf '%s\trun %d\t%s\t%s\n' "$system" "$run" "$figure" "${result#*$'\t'}" >>"$out/runs.tsv"
    figures[$system]+="$figure "
  done
done

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo
echo "scenario: $scenario ($figure_name), $runs runs each, alternating; machine: $(nproc) cores"
cat "$out/runs.tsv"
declare -A medians
for system in "${systems[@]}"; do
  medians[$system]=$(median "${figures[$system]}")
  printf '%-5s median: %s   (runs: %s)\n' "$system" "${medians[$system]}" "${figures[$system]% }"
done
for other in peer limit baseline; do
  [[ -n "${medians[$other]:-}" && -n "${medians[ours]:-}" ]] || continue
  awk -v ours="${medians[ours]}" -v them="${medians[$other]}" -v name="$other" -v higher="$higher_is_better" 'BEGIN {
    if (ours == 0 || them == 0) { printf "ratio ours/%s: n/a (a median is 0)\n", name; exit }
    r = ours / them
    if (higher == "true") printf "ratio ours/%s: %.2f (higher is better: ours is %.2fx %s)\n", name, r, r, name
    else printf "ratio ours/%s: %.3f (lower is better: ours is %.2fx %s)\n", name, r, r, name
  }'
done
echo "raw results: $results"
