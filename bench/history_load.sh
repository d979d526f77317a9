#!/usr/bin/env bash
# History load: GET /history?room=R&limit=100 with wrk, after seeding room R
# through the WebSocket side with chat-load. Works against chat-host
# (history-http + ws-proxy) and against the exercise's Node peer (which
# ignores `limit` and returns the whole stored room, so the room is seeded
# with exactly --seed messages, 100 by default: both then return the same 100).
#
#   bench/history_load.sh [options]
#     --http URL         history server base URL        [http://127.0.0.1:8081]
#     --ws URL           WebSocket URL used for seeding  [ws://127.0.0.1:8080/]
#     --room R           room to seed and read           [bench-history-<random>]
#     --seed N           messages to seed; 0: no seeding [100]
#     --limit N          limit= of the request           [100]
#     --threads N        wrk threads                     [2]
#     --connections N    wrk connections                 [50]
#     --duration S       wrk seconds                     [10]
#     --chat-load PATH   generator binary                [build/release/bin/chat-load]
#     --json             print one JSON line on stdout (the wrk output goes to stderr)
#
# Needs wrk (Debian: apt-get install wrk), curl and jq.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=bench/lib.sh
source "$here/lib.sh"
http="http://127.0.0.1:8081"
ws="ws://127.0.0.1:8080/"
room="bench-history-$RANDOM$RANDOM"
seed=100
limit=100
threads=2
connections=50
duration=10
chat_load="$root/build/release/bin/chat-load"
json=false

while (($#)); do
  if set_option "http ws room seed limit threads connections duration chat_load" "$@"; then
    shift 2
    continue
  fi
  case "$1" in
    --json) json=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "history_load.sh: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done

missing=()
for tool in wrk curl jq; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  echo "history_load.sh: needs ${missing[*]}: install with: sudo apt-get install -y ${missing[*]}" >&2
  exit 2
fi

if ((seed > 0)); then
  if [[ ! -x "$chat_load" ]]; then
    echo "history_load.sh: no chat-load at $chat_load; build it: cmake --preset release && cmake --build --preset release --target chat-load" >&2
    exit 2
  fi
  echo "history_load.sh: seeding $seed messages into $room through $ws" >&2
  seeded=$("$chat_load" --url "$ws" --seed-room "$room" --seed-count "$seed" --json 2>/dev/null | jq -r '.seeded')
  if [[ "$seeded" != "$seed" ]]; then
    echo "history_load.sh: seeding stored $seeded of $seed messages" >&2
    exit 1
  fi
fi

url="$http/history?room=$room&limit=$limit"
# One request first: what each wrk request gets back.
body=$(curl -fsS "$url") || { echo "history_load.sh: GET $url failed" >&2; exit 1; }
messages=$(jq '.messages | length' <<<"$body")
bytes=${#body}
echo "history_load.sh: GET $url -> $messages messages, $bytes bytes" >&2

out=$(wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$url")
echo "$out" >&2

# wrk prints latencies as 812.00us, 1.23ms, 2.10s.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "0" }'
}
rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
p90=$(to_ms "$(awk '$1 == "90%" {print $2}' <<<"$out")")
p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
requests=$(awk '/requests in/ {print $1}' <<<"$out")
non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
socket_errors=$(awk -F'[ ,]+' '/Socket errors:/ {print $4 + $6 + $8 + $10}' <<<"$out")

if $json; then
  jq -cn --arg url "$url" --argjson rps "${rps:-0}" --argjson p50 "$p50" --argjson p90 "$p90" --argjson p99 "$p99" \
    --argjson requests "${requests:-0}" --argjson non2xx "${non2xx:-0}" --argjson socket_errors "${socket_errors:-0}" \
    --argjson messages "$messages" --argjson bytes "$bytes" --argjson connections "$connections" \
    --argjson threads "$threads" --argjson duration "$duration" \
    '{mode: "history", url: $url, requests_per_s: $rps, latency_ms: {p50: $p50, p90: $p90, p99: $p99},
      requests: $requests, non_2xx: $non2xx, socket_errors: $socket_errors,
      messages_per_response: $messages, bytes_per_response: $bytes,
      connections: $connections, threads: $threads, duration_s: $duration}'
else
  printf 'history: %s req/s, p50 %s ms, p90 %s ms, p99 %s ms, %s messages (%s bytes) per response, non-2xx %s, socket errors %s\n' \
    "$rps" "$p50" "$p90" "$p99" "$messages" "$bytes" "${non2xx:-0}" "${socket_errors:-0}"
fi
