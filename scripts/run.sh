#!/usr/bin/env bash
# Builds chat-host (release) and runs it with every plugin on
# config/chat.toml. Extra arguments go to chat-host, e.g. --plugins grpc-chat.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release

exec build/release/bin/chat-host --config config/chat.toml "$@"
