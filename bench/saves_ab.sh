#!/usr/bin/env bash
# Saves of two or more cafe binaries, alternated, for telling a change from
# the machine's drift (its speed moves by a third from one hour, even one
# minute, to the next):
#
#   bench/saves_ab.sh SERVER_URL BINARY BINARY [BINARY…]
#
# SERVER_URL is a PostgreSQL server's URL without a database
# (postgres://cafe:cafe@127.0.0.1:PORT), or `sqlite`. Each binary gets a
# 1,000-page corpus of its own (BENCH_PAGES), made by the bench_corpus next
# to it (EXAMPLES/bench_corpus, so binaries with different migrations can
# be compared), in a database of its own (saves_ab_1, saves_ab_2…), and is
# started once. Then BENCH_ROUNDS (6) rounds: in each, every binary in turn
# gets `bench_client saves` (BENCH_EDITORS editors, 4; BENCH_SECONDS, 5).
# One line per run: saves/s, p50 and p99 in ms, and the CPU that cafe and
# PostgreSQL's processes used per save cycle (the edit form's GET and the
# POST); then per binary the median of its runs. Needs the release builds
# of cafe, bench_corpus and bench_client.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
(( $# >= 3 )) || { echo "usage: bench/saves_ab.sh SERVER_URL|sqlite BINARY BINARY [BINARY…]" >&2; exit 2; }
SERVER=$1
shift
ROUNDS=${BENCH_ROUNDS:-6}
SECONDS_EACH=${BENCH_SECONDS:-5}
EDITORS=${BENCH_EDITORS:-4}
PAGES=${BENCH_PAGES:-1000}
PORT=${BENCH_PORT:-28380}
CLIENT=$ROOT/target/release/examples/bench_client
OUT=$(mktemp -d /tmp/cafe-saves-ab.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$OUT"' EXIT
source "$ROOT/bench/cpu.sh"
source "$ROOT/bench/local.sh"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds of ${SECONDS_EACH} s, $EDITORS editors, $PAGES pages"
n=0
for bin in "$@"; do
  n=$((n + 1))
  mkdir -p "$OUT/$n"
  if [[ $SERVER == sqlite ]]; then
    db="sqlite://$OUT/$n/cafe.db"
  else
    db="${SERVER%/}/saves_ab_$n?sslmode=disable"
  fi
  "$(dirname "$bin")/examples/bench_corpus" --db "$db" --pages "$PAGES" --out "$OUT/$n" --replace \
    >"$OUT/$n/summary.txt" 2>"$OUT/$n/progress.txt"
  save_sample "$OUT/$n" "$OUT/$n/sample.txt"
  "$bin" --db "$db" --addr "127.0.0.1:$((PORT + n))" >"$OUT/$n/cafe.log" 2>&1 &
  PIDS+=($!)
  wait_for_cafe "$((PORT + n))"
  echo "# binary $n: $bin ($(stat -c %y "$bin" | cut -d. -f1)); corpus: $(cat "$OUT/$n/summary.txt")"
done
for round in $(seq "$ROUNDS"); do
  for n in $(seq $#); do
    pid=${PIDS[$((n - 1))]}
    cafe_before=$(cpu_of "$pid"); pg_before=$(pg_cpu)
    line=$("$CLIENT" saves --base "http://127.0.0.1:$((PORT + n))" --users "$OUT/$n/users.txt" \
      --slugs "$OUT/$n/sample.txt" --conns "$EDITORS" --seconds "$SECONDS_EACH" 2>>"$OUT/$n/client.log" \
      | grep '^RESULT' | head -1)
    cafe_after=$(cpu_of "$pid"); pg_after=$(pg_cpu)
    read -r saves_s p50 p99 saves < <(awk '{print $2, $3, $4, $6}' <<<"$line")
    per_save="$(ms_per $((cafe_after - cafe_before)) "$saves") $(ms_per $((pg_after - pg_before)) "$saves")"
    echo "round $round binary $n: $saves_s saves/s, p50 $p50 ms, p99 $p99 ms; CPU per save cycle (cafe, PostgreSQL) ms: $per_save" \
      | tee -a "$OUT/$n/runs.txt"
  done
done
for n in $(seq $#); do
  median=$(awk '{print $5}' "$OUT/$n/runs.txt" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')
  echo "binary $n: median $median saves/s over $ROUNDS runs"
done
