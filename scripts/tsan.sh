#!/usr/bin/env bash
# Builds chat-host under ThreadSanitizer (preset tsan: -O1 -g) and runs the
# tests of the fan-out and stream code with it: the unit tests and the
# integration tests of grpc-chat, ws-proxy, history-http, TLS, faults, the
# host process and several chat nodes on PostgreSQL. Browser tests are left
# out. TSAN_OPTIONS come from the test preset (halt_on_error=1, so a report
# makes a host exit non-zero and its test fail; suppressions in
# tests/tsan.supp, which say why).
# Not part of scripts/test.sh or CI: it takes much longer than the asan run.
# On a shared machine, run it as `nice -n 19 scripts/tsan.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset tsan >/dev/null
cmake --build --preset tsan
# The unit tests, and every integration test but the browser ones, the
# exercise's Node client and the install tree.
ctest --preset tsan -L unit "$@"
ctest --preset tsan -L integration -LE browser \
  -R '^(WsProxy|GrpcChat|Stores/GrpcChat|Fault|Tls|HistoryHttp|HostCli|HostProcess|TestHelpers|ChatNodes)' "$@"
