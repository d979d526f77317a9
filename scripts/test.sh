#!/usr/bin/env bash
# Builds chat-host and runs every test: the whole suite in the debug build
# (warnings are errors), then again under AddressSanitizer + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

echo "== debug build and tests"
cmake --preset debug >/dev/null
cmake --build --preset debug
ctest --preset debug

echo "== ASan + UBSan build and tests"
cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan
