# Shell helpers shared by the bench scripts (source it; loopback only).

# A TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# stop_in_reverse PID...: SIGTERM each process, last started first (a proxy
# before the chat service it uses), waiting for each to exit.
stop_in_reverse() {
  local pids=("$@") i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[$i]}" 2>/dev/null && wait "${pids[$i]}" 2>/dev/null || true
  done
}
