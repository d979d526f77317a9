#!/usr/bin/env bash
# soak.sh: a long run of steady chat against one all-in-one chat-host (the
# shipped plugins, SQLite store), to see whether memory stays flat, errors
# stay at zero and latency stays put.
#
#   bench/soak.sh [--minutes 30] [--segment 300] [--clients 10000] [--rooms 100]
#                 [--rate 200] [--build build/release] [--out DIR]
#
# The traffic is back-to-back chat-load runs of --segment seconds (each
# opens its --clients connections, sends --rate messages/s over them, and
# reports deliveries, ratio, errors and latency), so latency is known per
# segment; between segments the connections are closed and opened again.
# Every 10 s the host's RSS and CPU time are sampled from /proc. At the end:
# one line per segment and the RSS curve, in DIR/segments.tsv and DIR/rss.tsv.
#
# Needs chat-load and chat-host built (cmake --build --preset release --target
# runtime chat-load) and ports 50051, 8080, 8081 free. Loopback only.
set -euo pipefail

minutes=30 segment=300 clients=10000 rooms=100 rate=200
here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../build/release" out=""
while (($#)); do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --segment) segment=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --rooms) rooms=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
out="${out:-$(mktemp -d /tmp/chat-soak.XXXXXX)}"
mkdir -p "$out/data"
command -v jq >/dev/null || { echo "soak.sh needs jq" >&2; exit 1; }

cat > "$out/soak.toml" <<EOF
[host]
plugins = ["grpc-chat", "ws-proxy", "history-http"]
[grpc-chat]
host = "127.0.0.1"
store_path = "$out/data/chat.db"
[ws-proxy]
host = "127.0.0.1"
max_connections = 100000
[history-http]
host = "127.0.0.1"
EOF

ulimit -n "$(ulimit -Hn)"
"$build/bin/chat-host" --config "$out/soak.toml" > "$out/host.log" 2>&1 &
host=$!
sampler=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true
  kill "$host" 2>/dev/null && wait "$host" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q ' ready in ' "$out/host.log" && break; sleep 0.1; done
grep -q ' ready in ' "$out/host.log" || { echo "chat-host did not start; see $out/host.log" >&2; exit 1; }

# RSS (KiB) and CPU seconds of the host every 10 s.
ticks=$(getconf CLK_TCK)
(
  echo -e "seconds\trss_kib\tcpu_s" > "$out/rss.tsv"
  start=$(date +%s)
  while kill -0 "$host" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$host/status")
    cpu=$(awk -v t="$ticks" '{printf "%.1f", ($14 + $15) / t}' "/proc/$host/stat")
    echo -e "$(( $(date +%s) - start ))\t$rss\t$cpu" >> "$out/rss.tsv"
    sleep 10
  done
) &
sampler=$!

segments=$(( minutes * 60 / segment ))
echo -e "segment\tdeliveries_per_s\tratio\terrors\tp50_ms\tp99_ms\tmax_ms\thost_rss_kib" > "$out/segments.tsv"
for i in $(seq 1 "$segments"); do
  line=$("$build/bin/chat-load" --json --clients "$clients" --rooms "$rooms" --rate "$rate" \
           --warmup 5 --duration "$((segment - 5))" --connect-timeout 120 \
           --source-addresses 127.0.0.2,127.0.0.3 --pid "chat-host=$host" 2>>"$out/chat-load.log")
  echo "$line" >> "$out/segments.jsonl"
  jq -r --arg i "$i" '[$i, .deliveries_per_s, .delivery_ratio, .errors,
      .latency_ms.p50, .latency_ms.p99, .latency_ms.max, (.processes[0].rss_kib // "")] | @tsv' \
    <<<"$line" >> "$out/segments.tsv"
  tail -n 1 "$out/segments.tsv"
done

echo
column -t "$out/segments.tsv"
echo "RSS curve (every 10 s): $out/rss.tsv; first and last:"
sed -n '2p;$p' "$out/rss.tsv"
echo "host log lines at warn or above: $(grep -c -E ' (warn|error|critical) ' "$out/host.log" || true)"
