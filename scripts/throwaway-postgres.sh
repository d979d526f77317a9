#!/usr/bin/env bash
# A throwaway PostgreSQL on loopback, for development and for the tests (the
# tests start theirs through this script too). Its data, socket and log live
# in one folder; nothing outside it is touched.
#
#   scripts/throwaway-postgres.sh start DIR [PORT]   create (first time) and start; prints DATABASE_URL
#   scripts/throwaway-postgres.sh stop DIR           stop it (fast: open sessions are ended)
#   scripts/throwaway-postgres.sh url DIR            print DATABASE_URL again
#   scripts/throwaway-postgres.sh promote DIR        make a standby the primary (failover by hand)
#   scripts/throwaway-postgres.sh standby DIR PRIMARY_DIR [PORT]
#                                                    a streaming standby of PRIMARY_DIR's server,
#                                                    made synchronous on the primary, and started
#
# Then, for example:
#   export DATABASE_URL=$(scripts/throwaway-postgres.sh start /tmp/chat-pg)
#   build/release/bin/chat-host --config config/chat.toml   # with [grpc-chat] store = "postgres"
#
# PostgreSQL will not run as root: as root, the server runs as the system
# user `postgres` (Debian's package makes it) and DIR is given to it.
# Logins use a password (scram-sha-256), kept in DIR/password and in the URL;
# the database and user are both `chat`.
set -euo pipefail

usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

bindir() {
  local dir
  dir=$(pg_config --bindir 2>/dev/null || true)
  if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  fi
  if [[ -z "$dir" || ! -x "$dir/initdb" ]]; then
    echo "throwaway-postgres: PostgreSQL's server programs are not installed (Debian package: postgresql)" >&2
    exit 1
  fi
  echo "$dir"
}

# Runs a PostgreSQL program as the user that owns the data.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
  else
    "$@"
  fi
}

# A port nothing listens on, below the kernel's range of ephemeral ports:
# a client socket that happens to hold an ephemeral port (a test's gRPC
# channel, say) makes the server's bind fail even though nothing listens.
free_port() {
  local low=32768 port first=20000 count=12000
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  if ((low > 12000)); then first=10000 count=$((low - 10000)); fi
  for _ in $(seq 1 50); do
    port=$((first + (RANDOM * 32768 + RANDOM) % count))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  echo "throwaway-postgres: found no free port" >&2
  exit 1
}

url_of() {
  local dir=$1
  echo "postgresql://chat:$(cat "$dir/password")@127.0.0.1:$(cat "$dir/port")/chat"
}

try_start() {
  local dir=$1 bin=$2
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
}

did_not_start() {
  local dir=$1
  echo "throwaway-postgres: the server in $dir did not start; its log:" >&2
  tail -n 20 "$dir/server.log" >&2 || true
  exit 1
}

start_server() {
  local dir=$1 bin=$2
  # Running already (a second start, or a test run's fixture): nothing to do.
  if as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then return; fi
  try_start "$dir" "$bin" || did_not_start "$dir"
}

# Settings of every server this script makes: loopback only, its socket in
# its own folder, room for a standby.
write_settings() {
  local dir=$1 port=$2
  cat >>"$dir/data/postgresql.conf" <<EOF

# throwaway-postgres
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
wal_level = replica
max_wal_senders = 4
synchronous_commit = on
EOF
}

prepare_dir() {
  local dir=$1
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
}

start() {
  local dir=$1 port=${2:-}
  local bin
  bin=$(bindir)
  if [[ ! -f "$dir/data/PG_VERSION" ]]; then
    prepare_dir "$dir"
    local chosen=
    [[ -n "$port" ]] || { port=$(free_port); chosen=yes; }
    as_owner sh -c "umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' > '$dir/password'"
    as_owner "$bin/initdb" -D "$dir/data" -U chat --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
      --pwfile="$dir/password" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    echo "host replication chat 127.0.0.1/32 scram-sha-256" | as_owner tee -a "$dir/data/pg_hba.conf" >/dev/null
    write_settings "$dir" "$port"
    echo "$port" | as_owner tee "$dir/port" >/dev/null
    # A port of our choosing that another process took meanwhile: another.
    for attempt in 1 2 3 4 5; do
      try_start "$dir" "$bin" && break
      [[ -n "$chosen" && $attempt -lt 5 ]] && tail -n 5 "$dir/server.log" | grep -q "Address already in use" ||
        did_not_start "$dir"
      port=$(free_port)
      echo "port = $port" | as_owner tee -a "$dir/data/postgresql.conf" >/dev/null
      echo "$port" | as_owner tee "$dir/port" >/dev/null
    done
    (export PGPASSWORD=$(cat "$dir/password")
     as_owner "$bin/psql" -q -h 127.0.0.1 -p "$port" -U chat -d postgres -c "CREATE DATABASE chat" >/dev/null)
  else
    [[ -z "$port" || "$port" == "$(cat "$dir/port")" ]] ||
      { echo "throwaway-postgres: $dir already listens on port $(cat "$dir/port")" >&2; exit 1; }
    start_server "$dir" "$bin"
  fi
  url_of "$dir"
}

stop() {
  local dir=$1
  [[ -f "$dir/data/postmaster.pid" ]] || return 0
  as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
}

standby() {
  local dir=$1 primary=$2 port=${3:-}
  local bin
  bin=$(bindir)
  [[ -f "$primary/port" ]] || { echo "throwaway-postgres: no server in $primary" >&2; exit 1; }
  [[ -n "$port" ]] || port=$(free_port)
  prepare_dir "$dir"
  as_owner cp "$primary/password" "$dir/password"
  local primary_port
  primary_port=$(cat "$primary/port")
  (export PGPASSWORD=$(cat "$primary/password")
   as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U chat -D "$dir/data" -R -X stream -c fast \
     -d "application_name=standby" >/dev/null)
  # The copied settings name the primary's port and socket folder: this
  # server's own come last and win.
  write_settings "$dir" "$port"
  echo "$port" | as_owner tee "$dir/port" >/dev/null
  start_server "$dir" "$bin"
  # A commit on the primary now waits until the standby has it.
  (export PGPASSWORD=$(cat "$primary/password")
   as_owner "$bin/psql" -q -h 127.0.0.1 -p "$primary_port" -U chat -d postgres \
     -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" -c "SELECT pg_reload_conf()" >/dev/null)
  url_of "$dir"
}

[[ $# -ge 2 ]] || usage
command=$1
dir=$(realpath -m "$2")
case "$command" in
  start) start "$dir" "${3:-}" ;;
  stop) stop "$dir" ;;
  url) url_of "$dir" ;;
  promote) as_owner "$(bindir)/pg_ctl" -D "$dir/data" -w -t 60 promote >/dev/null ;;
  standby) [[ $# -ge 3 ]] || usage; standby "$dir" "$(realpath -m "$3")" "${4:-}" ;;
  *) usage ;;
esac
