#!/usr/bin/env bash
# Try Cafe as it runs on several machines, on this one: PostgreSQL, two
# `cafe serve` instances sharing its database, and nginx in front of them,
# all on 127.0.0.1. See docs/deploy.md.
#
#   docs/try-two-instances.sh          then open the URL it prints; Ctrl-C stops it
#
# What it does:
#   1. Installs Debian's `postgresql` and `nginx-light` (or `nginx`) if they
#      are missing (apt-get, with sudo when not root), and builds
#      target/release/cafe if there is none (CAFE=/path/to/cafe to use another).
#      On a Debian system running systemd, installing nginx also starts the
#      system's own nginx service (port 80); this script does not use it
#      (`systemctl disable --now nginx` if you do not want it).
#   2. Starts a throwaway PostgreSQL cluster with .ci/postgres.sh in
#      $TRY_DIR/postgres (a free port; role and database `cafe`), unless
#      TRY_DB=postgres://… names a database to use instead.
#   3. Starts two instances, on 127.0.0.1:3001 and 127.0.0.1:3002
#      (TRY_PORT_A, TRY_PORT_B), with the same --db, --public-url
#      http://127.0.0.1:8080 and --trust-proxy x-forwarded-for. The first is
#      started alone until it answers, so the database is made and seeded
#      once; the second then starts on the ready database.
#   4. Starts nginx (a private config in $TRY_DIR/nginx, not the system's
#      service) on 127.0.0.1:8080 (TRY_PORT), round-robin over the two.
#   5. Prints the URL and waits. On Ctrl-C, or if anything it started stops,
#      it stops nginx, both instances and the PostgreSQL cluster it started,
#      each by its process id (the cluster with pg_ctl, which signals the
#      postmaster recorded in its data folder).
#
# Logs: $TRY_DIR/cafe-a.log and cafe-b.log (each instance logs the requests it
# answers: RUST_LOG defaults to cafe=info,tower_http=debug,sqlx=warn here) and
# $TRY_DIR/nginx/access.log (with the instance that answered, upstream=…).
# $TRY_DIR defaults to a new folder under /tmp; the PostgreSQL cluster in it
# is left on disk (stopped), so TRY_DIR=that-folder starts it again with its
# data. TRY_SECONDS=N stops everything after N seconds instead of waiting for
# Ctrl-C (for scripted checks).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${TRY_DIR:-$(mktemp -d /tmp/cafe-try.XXXXXX)}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
PORT=${TRY_PORT:-8080}
PORT_A=${TRY_PORT_A:-3001}
PORT_B=${TRY_PORT_B:-3002}
URL=http://127.0.0.1:$PORT
export RUST_LOG=${RUST_LOG:-cafe=info,tower_http=debug,sqlx=warn}

PIDS=()       # the instances and nginx, in the order they were started
PG_STARTED=   # the cluster folder, when this script started the cluster
say() { printf 'try: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

stop_all() {
  trap - EXIT INT TERM
  local i pid
  for (( i = ${#PIDS[@]} - 1; i >= 0; i-- )); do
    pid=${PIDS[i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
  if [[ -n $PG_STARTED ]]; then
    bash "$ROOT/.ci/postgres.sh" stop "$PG_STARTED" || true
    PG_STARTED=
  fi
  say "stopped; logs and data in $DIR"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  say "installing $* (Debian packages)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# --- tools ----------------------------------------------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [[ ! -x $NGINX ]]; then
  apt_install nginx-light || apt_install nginx
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
command -v curl >/dev/null || apt_install curl
if [[ -z ${TRY_DB:-} ]] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install postgresql
fi
CAFE=${CAFE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/cafe}
if [[ ! -x $CAFE ]]; then
  say "building $CAFE (cargo build --release --bin cafe; a few minutes)"
  (cd "$ROOT" && cargo build --release --quiet --bin cafe)
fi
for port in "$PORT" "$PORT_A" "$PORT_B"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    die "something already listens on 127.0.0.1:$port; set TRY_PORT, TRY_PORT_A or TRY_PORT_B"
  fi
done

# --- PostgreSQL -------------------------------------------------------------
if [[ -n ${TRY_DB:-} ]]; then
  DB=$TRY_DB
else
  running=  # a cluster already running in that folder is used, and left running
  pidfile=$DIR/postgres/data/postmaster.pid
  [[ -f $pidfile ]] && kill -0 "$(head -1 "$pidfile")" 2>/dev/null && running=1
  say "starting PostgreSQL in $DIR/postgres"
  DB=$(bash "$ROOT/.ci/postgres.sh" start "$DIR/postgres" 2>>"$DIR/postgres.log") \
    || { cat "$DIR/postgres.log" >&2; die "PostgreSQL did not start"; }
  [[ -n $running ]] || PG_STARTED=$DIR/postgres
fi
say "database: $DB"

# --- Cafe -------------------------------------------------------------------
start_cafe() { # start_cafe NAME PORT
  "$CAFE" serve --db "$DB" --addr "127.0.0.1:$2" --public-url "$URL" \
    --trust-proxy x-forwarded-for --db-pool-size 4 >"$DIR/cafe-$1.log" 2>&1 &
  PIDS+=($!)
  local pid=$! started=$SECONDS
  until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$2/healthz" || true) == 200 ]]; do
    kill -0 "$pid" 2>/dev/null || { cat "$DIR/cafe-$1.log" >&2; die "instance $1 (port $2) stopped"; }
    (( SECONDS - started < 60 )) || die "instance $1 not ready after 60 s (see $DIR/cafe-$1.log)"
    sleep 0.1
  done
  say "instance $1: pid $pid on 127.0.0.1:$2 (log $DIR/cafe-$1.log)"
}
start_cafe a "$PORT_A"
start_cafe b "$PORT_B"

# --- nginx --------------------------------------------------------------------
mkdir -p "$DIR/nginx/tmp"
user_line=; [[ $(id -u) -eq 0 ]] && user_line="user root;"
cat >"$DIR/nginx/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
  log_format cafe '\$remote_addr "\$request" \$status upstream=\$upstream_addr \$request_time s';
  access_log $DIR/nginx/access.log cafe;
  client_body_temp_path $DIR/nginx/tmp/body;
  proxy_temp_path $DIR/nginx/tmp/proxy;
  fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
  uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
  scgi_temp_path $DIR/nginx/tmp/scgi;
  upstream cafe {
    server 127.0.0.1:$PORT_A;
    server 127.0.0.1:$PORT_B;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:$PORT;
    client_max_body_size 21m;
    location / {
      proxy_pass http://cafe;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_buffer_size 16k;
      proxy_buffers 64 8k;
      proxy_next_upstream error timeout;
    }
  }
}
EOF
"$NGINX" -t -q -e "$DIR/nginx/error.log" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>>"$DIR/nginx/error.log" \
  || { cat "$DIR/nginx/error.log" >&2; die "nginx refused its config"; }
"$NGINX" -e "$DIR/nginx/error.log" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" 2>>"$DIR/nginx/error.log" &
PIDS+=($!)
for _ in $(seq 100); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz" || true) == 200 ]] && break
  sleep 0.1
done
[[ $(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz" || true) == 200 ]] \
  || { cat "$DIR/nginx/error.log" >&2; die "nginx does not answer on $URL"; }
say "nginx: pid ${PIDS[-1]} on 127.0.0.1:$PORT (config $DIR/nginx/nginx.conf)"

cat <<EOF

Cafe is running at $URL (two instances behind nginx, one PostgreSQL database).
Create an account with:  $CAFE user add NAME --db '$DB'
Which instance answered: tail -f $DIR/nginx/access.log
Press Ctrl-C to stop everything.

EOF

# Wait until Ctrl-C (or TRY_SECONDS), or until one of the processes stops.
deadline=$(( SECONDS + ${TRY_SECONDS:-0} ))
while true; do
  for pid in "${PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null || die "process $pid stopped by itself; see the logs in $DIR"
  done
  if [[ -n ${TRY_SECONDS:-} ]] && (( SECONDS >= deadline )); then break; fi
  sleep 1
done
