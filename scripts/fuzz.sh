#!/usr/bin/env bash
# Builds the libFuzzer targets (preset `fuzz`: clang 14, ASan + UBSan) and
# runs one of them, or all of them one after another.
#   scripts/fuzz.sh                       every target, 10 million executions each
#   scripts/fuzz.sh frame_decode 100000   one target, 100000 executions
#   scripts/fuzz.sh config_env 10000000 1800   ... or 30 minutes, whichever comes first
# Targets: frame_decode, history_query, config_env, ws_codec (tests/fuzz/).
#
# Each run starts from a copy of the seed corpus (tests/fuzz/corpus/<target>)
# in build/fuzz/corpus-out/<target>, where new inputs go and accumulate over
# runs, so a run continues where the last one stopped; the tree's corpus
# only changes by hand. A crashing input is saved in
# build/fuzz/artifacts/<target>/ and the run stops; the log of each run is
# build/fuzz/<target>.log.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

all_targets=(frame_decode history_query config_env ws_codec)
target="${1:-all}"
runs="${2:-10000000}"
max_seconds="${3:-0}"  # 0: no time limit
# Longest input per target: a few frames' worth, a long query string, a
# config of a few dozen lines.
declare -A max_len=([frame_decode]=4096 [history_query]=2048 [config_env]=4096 [ws_codec]=4096)

if [[ "$target" == all ]]; then
  targets=("${all_targets[@]}")
elif [[ -n "${max_len[$target]+set}" ]]; then
  targets=("$target")
else
  echo "unknown target '$target' (known: ${all_targets[*]})" >&2
  exit 2
fi
if ! command -v clang++-14 >/dev/null; then
  echo "the fuzz preset needs clang++-14: apt-get install clang-14 libclang-rt-14-dev" >&2
  exit 1
fi

cmake --preset fuzz >/dev/null
nice -n 10 cmake --build --preset fuzz

for name in "${targets[@]}"; do
  corpus="build/fuzz/corpus-out/$name"
  artifacts="build/fuzz/artifacts/$name"
  mkdir -p "$corpus" "$artifacts"
  cp -n "tests/fuzz/corpus/$name"/* "$corpus"/
  dictionary=()
  [[ -f "tests/fuzz/$name.dict" ]] && dictionary=("-dict=tests/fuzz/$name.dict")
  echo "== $name: $runs executions, corpus $corpus"
  # -rss_limit_mb: over millions of runs the fuzzer's RSS (ASan's quarantine
  # and allocator caches, libFuzzer's tables) passes libFuzzer's default 2 GB,
  # while a plain build decoding the same corpus in a loop stays flat.
  TIMEFORMAT="== $name: %0R s wall, %0U s user, %0S s system"
  time UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    nice -n 10 "build/fuzz/bin/${name}_fuzz" "$corpus" \
    -runs="$runs" -max_len="${max_len[$name]}" -max_total_time="$max_seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dictionary[@]}" 2>&1 | tee "build/fuzz/$name.log"
done
