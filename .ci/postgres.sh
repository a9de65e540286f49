#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1, for the tests and for trying
# Cafe on PostgreSQL by hand (Debian's `postgresql` package, installed if
# missing). As root the server runs as the `postgres` user.
#
#   bash .ci/postgres.sh start DIR   make (if needed) and start a cluster in DIR,
#                                    print its URL: postgres://cafe:cafe@127.0.0.1:PORT/cafe
#                                    (after a stop, the same PORT again if it is free)
#   bash .ci/postgres.sh url DIR     print the URL again
#   bash .ci/postgres.sh stop DIR    stop it
#   bash .ci/postgres.sh statements DIR
#                                    print every statement the cluster ran, as
#                                    pg_stat_statements recorded it, each ended by
#                                    a NUL byte (for .ci/query_coverage.py)
#
# With CAFE_PG_STATEMENTS=1, `start` loads pg_stat_statements, keeping up to
# 200,000 statements (one test database's statements are entries of their
# own): .ci/run uses it to find the queries no test runs.
#
# The role `cafe` (password `cafe`) may create databases: the test suite
# gives each test a database of its own.
set -euo pipefail

cmd="${1:?usage: postgres.sh start|stop|url|statements DIR}"
dir="${2:?usage: postgres.sh start|stop|url|statements DIR}"

bindir() {
    local version
    version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)
    [ -n "$version" ] && echo "/usr/lib/postgresql/$version/bin"
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

url() {
    echo "postgres://cafe:cafe@127.0.0.1:$(cat "$dir/port")/cafe"
}

case "$cmd" in
start)
    if [ -z "$(bindir)" ] || [ ! -x "$(bindir)/initdb" ]; then
        echo "installing postgresql" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update >&2
        apt-get install -y postgresql >&2
    fi
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    if [ -f "$dir/port" ] && as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        url
        exit 0
    fi
    if [ ! -d "$dir/data" ]; then
        as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >&2
    fi
    # TLS with a self-signed certificate, so that `sslmode=require` URLs
    # can be tested; plain connections are still accepted.
    ssl=""
    statements=""
    if [ "${CAFE_PG_STATEMENTS:-}" = 1 ]; then
        statements="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.max=200000"
    fi
    if [ ! -f "$dir/data/server.key" ] && command -v openssl >/dev/null; then
        as_owner openssl req -new -x509 -days 365 -nodes -subj "/CN=127.0.0.1" \
            -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1 || true
        as_owner chmod 600 "$dir/data/server.key" 2>/dev/null || true
    fi
    if [ -f "$dir/data/server.key" ] && [ -f "$dir/data/server.crt" ]; then
        ssl="-c ssl=on"
    fi
    # A cluster started again (after `stop`) comes back at the same URL if
    # its port is still free: whatever was connected to it can reconnect.
    port=""
    if [ -f "$dir/port" ]; then
        # (SO_REUSEADDR as the server's own socket: closed connections
        # waiting out TIME_WAIT do not keep it.)
        port=$(python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); print(sys.argv[1])' "$(cat "$dir/port")" 2>/dev/null || true)
    fi
    if [ -z "$port" ]; then
        port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    echo "$port" > "$dir/port"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
        -o "-h 127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=on -c synchronous_commit=on $ssl $statements" start >&2
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q >&2 <<'SQL'
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cafe') THEN
        CREATE ROLE cafe LOGIN CREATEDB PASSWORD 'cafe';
    END IF;
END $$;
SQL
    if ! as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'cafe'" | grep -q 1; then
        as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc \
            "CREATE DATABASE cafe OWNER cafe" >&2
    fi
    url
    ;;
url)
    url
    ;;
statements)
    bin=$(bindir)
    port=$(cat "$dir/port")
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
        -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >&2
    as_owner "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -0 \
        -c "SELECT DISTINCT query FROM pg_stat_statements"
    ;;
stop)
    bin=$(bindir)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
    ;;
*)
    echo "usage: postgres.sh start|stop|url|statements DIR" >&2
    exit 2
    ;;
esac
