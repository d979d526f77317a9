#!/usr/bin/env bash
# soak.sh: a long run of steady chat against chat-host (the shipped plugins,
# SQLite store), to see whether memory stays flat, errors stay at zero and
# latency stays put.
#
#   bench/soak.sh [--minutes 30] [--segment 300 | --unbroken] [--split]
#                 [--clients 10000] [--rooms 100] [--rate 200]
#                 [--build build/release] [--out DIR]
#
# By default the traffic is back-to-back chat-load runs of --segment seconds
# (each opens its --clients connections, sends --rate messages/s over them,
# and reports deliveries, ratio, errors and latency); between segments the
# connections are closed and opened again. With --unbroken it is one run of
# --minutes holding the same connections throughout, reporting every minute
# (chat-load --report-every 60). With --split, grpc-chat runs in one host
# ("chat") and ws-proxy + history-http in another ("edge"), talking over
# gRPC, as an operator deploys them. Every 10 s each host's RSS and CPU time
# are sampled from /proc. At the end: one line per segment or minute, and
# the RSS curves, in DIR/segments.tsv and DIR/rss.tsv.
#
# Needs chat-load and chat-host built (cmake --build --preset release --target
# runtime chat-load) and jq. Loopback only; ports are picked free.
set -euo pipefail

minutes=30 segment=300 clients=10000 rooms=100 rate=200 unbroken=0 split=0
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
build="$here/../build/release" out=""
while (($#)); do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --segment) segment=$2; shift 2 ;;
    --unbroken) unbroken=1; shift ;;
    --split) split=1; shift ;;
    --clients) clients=$2; shift 2 ;;
    --rooms) rooms=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${out:-$(mktemp -d /tmp/chat-soak.XXXXXX)}"
mkdir -p "$out/data"
command -v jq >/dev/null || { echo "soak.sh needs jq" >&2; exit 1; }

grpc_port=$(free_port) ws_port=$(free_port) http_port=$(free_port)
token_file=$(service_token_file "$out")
{
  printf '[host]\nplugins = ["grpc-chat", "ws-proxy", "history-http"]\n'
  grpc_chat_table "$grpc_port" "$token_file" "$out/data/chat.db"
  ws_proxy_table "$ws_port" "$grpc_port" "$token_file"
  history_http_table "$http_port" "$grpc_port" "$token_file"
  printf 'ws_port = %s\n' "$ws_port"
} >"$out/soak.toml"

ulimit -n "$(ulimit -Hn)"
names=() hosts=() sampler=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true
  stop_in_reverse "${hosts[@]}"
}
trap cleanup EXIT
# start_named NAME PLUGINS: starts a host (lib.sh's start_host).
start_named() {
  start_host "$build/bin/chat-host" "$out/soak.toml" "$out/$1.log" --plugins "$2" || { hosts+=("$started"); exit 1; }
  names+=("$1")
  hosts+=("$started")
}
if ((split)); then
  start_named chat grpc-chat
  start_named edge ws-proxy,history-http
else
  start_named chat-host grpc-chat,ws-proxy,history-http
fi
watch=()
for i in "${!hosts[@]}"; do watch+=(--pid "${names[$i]}=${hosts[$i]}"); done

# RSS (KiB) and CPU seconds of each host every 10 s.
ticks=$(getconf CLK_TCK)
(
  header="seconds"
  for name in "${names[@]}"; do header+="\t${name}_rss_kib\t${name}_cpu_s"; done
  echo -e "$header" > "$out/rss.tsv"
  start=$(date +%s)
  while kill -0 "${hosts[0]}" 2>/dev/null; do
    row="$(( $(date +%s) - start ))"
    for pid in "${hosts[@]}"; do
      row+="\t$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")"
      row+="\t$(awk -v t="$ticks" '{printf "%.1f", ($14 + $15) / t}' "/proc/$pid/stat")"
    done
    echo -e "$row" >> "$out/rss.tsv"
    sleep 10
  done
) &
sampler=$!

load=("$build/bin/chat-load" --json --url "ws://127.0.0.1:$ws_port/" --clients "$clients" --rooms "$rooms"
      --rate "$rate" --warmup 5 --connect-timeout 120 --source-addresses 127.0.0.2,127.0.0.3 "${watch[@]}")
if ((unbroken)); then
  echo -e "minute\tdeliveries_per_s\terrors\tp50_ms\tp99_ms\tmax_ms\trss_kib" > "$out/segments.tsv"
  "${load[@]}" --duration "$((minutes * 60))" --report-every 60 --drain 10 > "$out/run.json" 2>> "$out/chat-load.log"
  jq -r '.intervals | to_entries[] | [(.key + 1), .value.deliveries_per_s, .value.errors, .value.p50_ms,
      .value.p99_ms, .value.max_ms, (.value.rss_kib | to_entries | map("\(.key)=\(.value)") | join(" "))] | @tsv' \
    "$out/run.json" >> "$out/segments.tsv"
  jq -r '"whole run: \(.deliveries_per_s) deliveries/s, ratio \(.delivery_ratio), errors \(.errors), p50 \(.latency_ms.p50) ms, p99 \(.latency_ms.p99) ms, max \(.latency_ms.max) ms"' "$out/run.json"
else
  segments=$(( minutes * 60 / segment ))
  echo -e "segment\tdeliveries_per_s\tratio\terrors\tp50_ms\tp99_ms\tmax_ms\trss_kib" > "$out/segments.tsv"
  for i in $(seq 1 "$segments"); do
    line=$("${load[@]}" --duration "$((segment - 5))" 2>> "$out/chat-load.log")
    echo "$line" >> "$out/segments.jsonl"
    jq -r --arg i "$i" '[$i, .deliveries_per_s, .delivery_ratio, .errors, .latency_ms.p50, .latency_ms.p99,
        .latency_ms.max, (.processes | map("\(.name)=\(.rss_kib)") | join(" "))] | @tsv' \
      <<<"$line" >> "$out/segments.tsv"
    tail -n 1 "$out/segments.tsv"
  done
fi

echo
column -t -s $'\t' "$out/segments.tsv"
echo "RSS curves (every 10 s): $out/rss.tsv; first and last:"
sed -n '2p;$p' "$out/rss.tsv"
for name in "${names[@]}"; do
  echo "$name: log lines at warn or above: $(grep -c -E ' (warn|error|crit) ' "$out/$name.log" || true)"
done
echo "results in $out"
