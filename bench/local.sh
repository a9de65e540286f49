# What the save scripts (bench/saves.sh, saves_ab.sh, save_statements.sh,
# save_wal.sh, first_time_reads.sh, gin_merges.sh) share about the processes they start
# and reach on this machine. Sourced, not run.

# Waits until the cafe on 127.0.0.1:$1 answers /healthz, at most 60 s (a
# large site's start runs its migrations first); the run goes on either
# way, and its first request then says what is wrong.
wait_for_cafe() {
  local _
  for _ in $(seq 600); do
    curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    sleep 0.1
  done
}

# Starts cafe binary $1 on database $2 at 127.0.0.1:$3, its log in $4,
# and waits until it answers; CAFE_PID is its process id. stop_cafe stops
# it (resumed first, should it have been stopped with SIGSTOP) and may be
# called again, from an EXIT trap too.
CAFE_PID=
start_cafe() {
  CAFE_DB=$2 CAFE_ADDR=127.0.0.1:$3 "$1" >"$4" 2>&1 &
  CAFE_PID=$!
  wait_for_cafe "$3"
}
stop_cafe() {
  [[ -z $CAFE_PID ]] || {
    kill -CONT "$CAFE_PID" 2>/dev/null
    kill "$CAFE_PID" 2>/dev/null
    wait "$CAFE_PID" 2>/dev/null || true
  }
  CAFE_PID=
}

# The pages the saves go to: the same 500 of corpus folder $1 every time
# (a fixed random source), written to $2.
save_sample() {
  cut -f2 "$1/slugs.tsv" | shuf -n 500 --random-source=<(yes) >"$2"
}

# PostgreSQL's newest installed tools (Debian's layout), and a command run
# as the cluster's owner: as root, the `postgres` user, who made the
# clusters of .ci/postgres.sh.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
