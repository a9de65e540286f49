#!/usr/bin/env bash
# The save scenario of bench/run.sh alone, for comparing how Cafe reaches
# its database: `bench/saves.sh URL [URL…]` generates a 1,000-page corpus
# into the first URL's database (dropped and made anew, as run.sh does),
# then for each URL in turn — the same database reached another way, for
# example with `?sslmode=disable`, or over the Unix socket with
# `?host=/tmp/pg` — starts one release `cafe` on it and runs
# `bench_client saves` (BENCH_EDITORS editors, 4; BENCH_SECONDS, 10)
# BENCH_RUNS times (2), one after the other on the same pages, printing one
# line per run, with the CPU that cafe and PostgreSQL's processes used per
# save cycle, the seconds `machine_probe` (bench/cpu.sh) took just before,
# and the average length of the saved pages' text after it (so
# that a client whose saves make the pages grow shows it). BENCH_CLIENT
# runs another build of bench_client (one from an earlier commit, to
# compare). BENCH_SQL, a list of SQL files separated by ':', one for each
# URL, runs the Nth file with psql on the Nth URL before its runs (for
# example a setting and its opposite, with the same URL given
# alternately). Needs the release build of cafe, bench_corpus and bench_client
# (see bench/README.md), and psql.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECONDS_EACH=${BENCH_SECONDS:-10}
EDITORS=${BENCH_EDITORS:-4}
PAGES=${BENCH_PAGES:-1000}
PORT=${BENCH_PORT:-28180}
RUNS=${BENCH_RUNS:-2}
BIN=$ROOT/target/release
CLIENT=${BENCH_CLIENT:-$BIN/examples/bench_client}
(( $# >= 1 )) || { echo "usage: bench/saves.sh URL [URL…]" >&2; exit 2; }
# CPU ticks (user + system) used so far by process $1, and by every
# PostgreSQL process on the machine (the edit form's GET and the POST both
# count: a save cycle).
source "$ROOT/bench/cpu.sh"
source "$ROOT/bench/local.sh"
OUT=$(mktemp -d /tmp/cafe-saves.XXXXXX)
"$BIN/examples/bench_corpus" --db "$1" --pages "$PAGES" --out "$OUT" --replace >"$OUT/summary.txt" 2>"$OUT/progress.txt"
save_sample "$OUT" "$OUT/sample.txt"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# corpus: $(cat "$OUT/summary.txt")"
IFS=: read -r -a SQL_FILES <<<"${BENCH_SQL:-}"
n=0
for url in "$@"; do
  sql=${SQL_FILES[$n]:-}; n=$((n + 1))
  [[ -n $sql ]] && psql "$url" -qAt -v ON_ERROR_STOP=1 -f "$sql" >/dev/null
  "$BIN/cafe" --db "$url" --addr "127.0.0.1:$PORT" >"$OUT/cafe.log" 2>&1 &
  pid=$!
  wait_for_cafe "$PORT"
  shown=$(sed -E 's|//([^:@/]*):[^@/]*@|//\1:***@|' <<<"$url")
  for run in $(seq "$RUNS"); do
    probe=$(machine_probe)
    cafe_before=$(cpu_of "$pid"); pg_before=$(pg_cpu)
    line=$("$CLIENT" saves --base "http://127.0.0.1:$PORT" --users "$OUT/users.txt" \
      --slugs "$OUT/sample.txt" --conns "$EDITORS" --seconds "$SECONDS_EACH" 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
    cafe_after=$(cpu_of "$pid"); pg_after=$(pg_cpu)
    saves=$(awk '{print $6}' <<<"$line")
    per_save="CPU per save: cafe $(ms_per $((cafe_after - cafe_before)) "$saves") ms, PostgreSQL $(ms_per $((pg_after - pg_before)) "$saves") ms"
    length=$(psql "$url" -qAt -c "SELECT round(avg(length(body))) FROM pages WHERE slug IN ($(sed "s/.*/'&'/" "$OUT/sample.txt" | paste -sd,))")
    echo "$shown${sql:+ after $(basename "$sql")} run $run: $line; $per_save; saved pages' text after it: $length characters on average; probe $probe s"
  done
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
rm -rf "$OUT"
