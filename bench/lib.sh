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

# stop_in_reverse PID...: SIGTERM each process, last started first (a proxy
# before the chat service it uses), waiting for each to exit.
stop_in_reverse() {
  local pids=("$@") i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null && wait "${pids[$i]}" 2>/dev/null || true
  done
}
