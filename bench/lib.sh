# Shell helpers shared by the bench scripts (source it; loopback only).

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# service_token_file DIR: writes a new service token to DIR/service-token
# (readable by its owner only) and prints the path. The hosts of one run
# share it, as a split deployment's do: grpc-chat wants it of every caller.
service_token_file() {
  local path="$1/service-token"
  (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(32))' >"$path")
  echo "$path"
}

# The host config tables of the scripts, one plugin each on 127.0.0.1, every
# table presenting the service token in TOKEN_FILE (the hosts of one run
# share it; "": none, as one host on loopback needs none), the shipped
# defaults otherwise. A table is the last one
# printed until the next starts, so key lines echoed after it are its own.
#   grpc_chat_table PORT TOKEN_FILE STORE_PATH
#   ws_proxy_table PORT CHAT_PORT TOKEN_FILE   (no cap on connections per
#                                               address: the load comes from
#                                               a few loopback addresses)
#   history_http_table PORT CHAT_PORT TOKEN_FILE
grpc_chat_table() {
  printf '[grpc-chat]\nhost = "127.0.0.1"\nport = %s\nstore_path = "%s"\n' "$1" "$3"
  token_key "$2"
}
ws_proxy_table() {
  printf '[ws-proxy]\nhost = "127.0.0.1"\nport = %s\nchat_port = %s\n' "$1" "$2"
  printf 'max_connections = 100000\nmax_connections_per_address = 0\n'
  token_key "$3"
}
history_http_table() {
  printf '[history-http]\nhost = "127.0.0.1"\nport = %s\nchat_port = %s\n' "$1" "$2"
  token_key "$3"
}
token_key() { [[ -z "$1" ]] || printf 'service_token_file = "%s"\n' "$1"; }

# stop_in_reverse PID...: SIGTERM each process, last started first (a proxy
# before the chat service it uses), waiting for each to exit.
stop_in_reverse() {
  local pids=("$@") i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null && wait "${pids[$i]}" 2>/dev/null || true
  done
}

# set_option "NAME..." ARG...: when the first ARG is --NAME for one of the
# NAMEs (dashes in the option for underscores in the variable), sets the
# variable NAME to the second ARG and succeeds; the caller then shifts both.
# Fails for any other ARG; exits 2 when the option has no value.
#   while (($#)); do
#     if set_option "runs rate" "$@"; then shift 2; continue; fi
#     case "$1" in ...
set_option() {
  local names=" $1 " name="${2#--}"
  name="${name//-/_}"
  [[ "$2" == --?* && "$names" == *" $name "* ]] || return 1
  if (($# < 3)); then
    echo "$(basename "$0"): $2 needs a value" >&2
    exit 2
  fi
  printf -v "$name" '%s' "$3"
}

# usage: the script's leading comment block (after the #! line), as its --help.
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

# start_host BINARY CONFIG LOG [ARG...]: starts chat-host in the background
# with CONFIG, writing to LOG, and waits up to 30 s for its "ready" line; its
# PID is then in $started. The environment's chat variables (the .env names)
# are left out, so what runs is the config. On failure it says why on stderr,
# with the end of LOG, and returns 1 ($started still names the process).
start_host() {
  local binary="$1" config="$2" log_file="$3"
  shift 3
  env -u GRPC_HOST -u GRPC_PORT -u WS_HOST -u WS_PORT -u HTTP_HOST -u HTTP_PORT -u CHATHOST_PLUGINS \
    -u CHATHOST_PLUGIN_PATH -u CHAT_STORE -u CHAT_STORE_PATH \
    "$binary" --config "$config" "$@" </dev/null >"$log_file" 2>&1 &
  started=$!
  local deadline=$((SECONDS + 30))
  until grep -q ' ready in ' "$log_file"; do
    if ! kill -0 "$started" 2>/dev/null; then
      echo "chat-host exited before it was ready ($log_file):" >&2
      tail -n 20 "$log_file" >&2
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "chat-host not ready after 30 s; see $log_file" >&2
      return 1
    fi
    sleep 0.05
  done
}
