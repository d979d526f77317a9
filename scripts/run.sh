#!/usr/bin/env bash
# Builds chat-host (release) and runs it with every plugin on
# config/chat.toml. Extra arguments go to chat-host, e.g. --plugins grpc-chat.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target runtime

# The page's port: the environment's, else .env's (when there is one), else 8081.
port="${HTTP_PORT:-}"
if [[ -z "$port" && -f .env ]]; then
  port="$(sed -n 's/^HTTP_PORT=//p' .env | tail -n 1)"
fi
echo
echo "  chat-host: open http://localhost:${port:-8081}/ in your browser once it logs 'ready'."
echo "  (Ctrl-C stops it; messages are kept in data/chat.db.)"
echo
exec build/release/bin/chat-host --config config/chat.toml "$@"
