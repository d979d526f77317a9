#!/usr/bin/env bash
# Builds chat-host and runs every test, all of them under AddressSanitizer +
# UndefinedBehaviorSanitizer (warnings are errors there too). One build keeps
# the whole run within CI's time on two cores; `ctest --preset debug` runs the
# same suite without sanitizers.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan
