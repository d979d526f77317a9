#!/usr/bin/env bash
# scale.sh: how chat-host holds many connections in a split deployment.
#
#   bench/scale.sh grpc-rss  [--build build/release] [--out DIR]
#   bench/scale.sh 100k      [--proxies 6] [--generators 6] [--per-generator 17000]
#                            [--rooms 10000] [--hold 120] [--build build/release] [--out DIR]
#
# grpc-rss: one host runs grpc-chat, another ws-proxy (pointed at it over
#   gRPC). chat-load holds 1,000 idle connections (each joined to one of 10
#   rooms), then 19,000; the grpc-chat host's RSS is read before, and while
#   each set is held. Flat means the browser connections cost grpc-chat
#   nothing: the proxy multiplexes them over its few upstream streams.
# 100k: one grpc-chat host, --proxies ws-proxy hosts sharing one port
#   (reuse_port), --generators chat-load processes at once, each with its own
#   clients and two source addresses of 127/8 (one process may hold 20,000
#   open files; one source address reaches one port through ~28,000
#   ephemeral ports). While they hold, a short fan-out run over the same
#   port shows chat still works. Prints connections held, every host's RSS,
#   and the fan-out figures.
#
# Needs chat-host and chat-load built (cmake --build --preset release --target
# runtime chat-load) and jq. Loopback only; ports are picked free.
set -euo pipefail

mode="${1:-}"; shift || true
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
build="$here/../build/release" out="" proxies=6 generators=6 per_generator=17000 hold=120 rooms=10000
while (($#)); do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --proxies) proxies=$2; shift 2 ;;
    --generators) generators=$2; shift 2 ;;
    --per-generator) per_generator=$2; shift 2 ;;
    --hold) hold=$2; shift 2 ;;
    --rooms) rooms=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
case "$mode" in grpc-rss|100k) ;; *) sed -n '2,22p' "$0" >&2; exit 2 ;; esac
command -v jq >/dev/null || { echo "scale.sh needs jq" >&2; exit 1; }
out="${out:-$(mktemp -d /tmp/chat-scale.XXXXXX)}"
mkdir -p "$out/data"
host_bin="$build/bin/chat-host" load_bin="$build/bin/chat-load"
ulimit -n "$(ulimit -Hn)"

grpc_port=$(free_port) ws_port=$(free_port)
token_file=$(service_token_file "$out")

{
  printf '[host]\nplugins = ["grpc-chat", "ws-proxy"]\n'
  grpc_chat_table "$grpc_port" "$token_file" "$out/data/chat.db"
  ws_proxy_table "$ws_port" "$grpc_port" "$token_file"
  printf 'reuse_port = true\nthreads = 1\n'
} >"$out/scale.toml"

pids=()
cleanup() { stop_in_reverse "${pids[@]}"; }
trap cleanup EXIT

# start_named NAME PLUGINS: starts a host (lib.sh's start_host), sets $started.
start_named() {
  start_host "$host_bin" "$out/scale.toml" "$out/$1.log" --plugins "$2" || { pids+=("$started"); exit 1; }
  pids+=("$started")
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

start_named grpc-chat grpc-chat
chat=$started
url="ws://127.0.0.1:$ws_port/"

if [[ "$mode" == grpc-rss ]]; then
  start_named ws-proxy ws-proxy
  proxy=$started
  sleep 1
  echo -e "connections\tjoined\tgrpc_chat_rss_kib\tws_proxy_rss_kib" | tee "$out/grpc-rss.tsv"
  echo -e "0\t-\t$(rss_kib "$chat")\t$(rss_kib "$proxy")" | tee -a "$out/grpc-rss.tsv"
  # First connections that join no room (the service never hears of them),
  # then connections that each join one of 100 rooms by sending a message,
  # then the same 19,000 users once more (users and rooms the service knows).
  for run in "1000 no" "19000 no" "1000 yes" "19000 yes" "19000 again"; do
    read -r n join <<< "$run"
    flags=(); [[ "$join" != no ]] && flags=(--idle-join)
    "$load_bin" --url "$url" --idle "${flags[@]}" --clients "$n" --rooms 100 --hold 10 --ping-interval 5 \
      --source-addresses 127.0.0.2,127.0.0.3 --connect-timeout 60 \
      --pid grpc-chat="$chat" --pid ws-proxy="$proxy" --json > "$out/idle-$n-$join.json" 2> "$out/idle-$n-$join.txt"
    jq -r --arg n "$n" --arg j "$join" '[$n, $j, (.processes[] | select(.name=="grpc-chat") | .rss_kib),
                         (.processes[] | select(.name=="ws-proxy") | .rss_kib)] | @tsv' \
      "$out/idle-$n-$join.json" | tee -a "$out/grpc-rss.tsv"
    jq -r '"  held \(.open_at_end) of \(.clients), joined \(.joined), errors \(.errors)"' "$out/idle-$n-$join.json"
  done
  sleep 10
  echo -e "0 (after)\t-\t$(rss_kib "$chat")\t$(rss_kib "$proxy")" | tee -a "$out/grpc-rss.tsv"
  echo "results in $out"
  exit 0
fi

# 100k
proxy_pids=()
for p in $(seq "$proxies"); do
  start_named "ws-proxy-$p" ws-proxy
  proxy_pids+=("$started")
done
watch=(--pid grpc-chat="$chat")
for p in "${!proxy_pids[@]}"; do watch+=(--pid "ws-proxy-$((p + 1))=${proxy_pids[$p]}"); done

gen_pids=()
for g in $(seq 0 $((generators - 1))); do
  "$load_bin" --url "$url" --idle --idle-join --clients "$per_generator" --rooms "$rooms" \
    --client-offset $((g * per_generator)) --sender-prefix "g$g-" --hold "$hold" --ping-interval 20 \
    --connect-timeout 120 --threads 1 \
    --source-addresses "127.0.$((g + 1)).2,127.0.$((g + 1)).3" \
    "${watch[@]}" --json > "$out/idle-$g.json" 2> "$out/idle-$g.txt" &
  gen_pids+=($!)
  pids+=($!)
done

# Wait until every generator has connected and joined (it then says
# "holding"): before that, the join messages' fan-out still loads the hosts.
deadline=$((SECONDS + 300))
while ((SECONDS < deadline)); do
  ready=$( (grep -l '^chat-load: holding' "$out"/idle-*.txt 2>/dev/null || true) | wc -l)
  ((ready >= generators)) && break
  sleep 1
done
target=$((generators * per_generator))
held=$(ss -Htn state established "( sport = :$ws_port )" | wc -l)
echo "held $held connections on port $ws_port (target $target)"
for p in "${!proxy_pids[@]}"; do
  echo "  ws-proxy-$((p + 1)): $(ls "/proc/${proxy_pids[$p]}/fd" | wc -l) fds, RSS $(rss_kib "${proxy_pids[$p]}") KiB"
done
echo "  grpc-chat: RSS $(rss_kib "$chat") KiB"

# Chat still works while they hold: 100 more clients join 10 of the held
# connections' rooms and chat there, so every message also reaches held ones.
"$load_bin" --url "$url" --clients 100 --rooms 10 --rate 100 --warmup 2 --duration 10 \
  --sender-prefix busy- --source-addresses 127.0.100.2 \
  --json > "$out/fanout.json" 2> "$out/fanout.txt" || true
jq -r '"fan-out while held: \(.deliveries_per_s) deliveries/s, ratio \(.delivery_ratio), p99 \(.latency_ms.p99) ms, errors \(.errors)"' "$out/fanout.json"

for pid in "${gen_pids[@]}"; do wait "$pid" || true; done
jq -s -r '"generators: held \(map(.open_at_end) | add) of \(map(.clients) | add), connect failures \(map(.connect_failures) | add), errors \(map(.errors) | add)"' "$out"/idle-*.json
echo "results in $out"
