#!/usr/bin/env bash
# Installs what building and testing chat-host needs on Debian 12, and only
# what is missing: quick and quiet when everything is already there.
#   scripts/install-deps.sh          build and run
#   scripts/install-deps.sh --test   also what the tests need
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libtomlplusplus-dev libspdlog-dev libsqlite3-dev libpq-dev libssl-dev libjwt-dev
)
testing=false
if [[ "${1:-}" == "--test" ]]; then
  testing=true
  # wrk and jq: the smoke run of the benchmarks' history mode (bench/history_load.sh).
  packages+=(libgtest-dev libgmock-dev libbenchmark-dev curl chromium wrk jq)
  # PostgreSQL's server: the tests start their own (scripts/throwaway-postgres.sh).
  packages+=(postgresql)
  # Node.js drives the browser and the exercise's ws client; keep one that is there.
  command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages of the tests (playwright-core, ws): only when the lock file
# changed since the last install. Never downloads a browser: tests use
# Debian's chromium.
if $testing; then
  node_dir="$(dirname "$0")/../tests/node"
  if [[ ! -f "$node_dir/node_modules/.package-lock.json" || "$node_dir/package-lock.json" -nt "$node_dir/node_modules/.package-lock.json" ]]; then
    echo "Installing npm packages in tests/node"
    (cd "$node_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
fi
