#!/usr/bin/env bash
# What a save costs PostgreSQL, statement by statement: `bench/save_statements.sh DIR
# [SECONDS]` starts a throwaway cluster in DIR (`.ci/postgres.sh`) with
# pg_stat_statements loaded (nested statements and planning counted too),
# generates a 1,000-page corpus into a database of its own, runs one
# release `cafe` and `bench_client saves` (4 editors, SECONDS, 10), and
# prints the statements by total time: calls, plans, planning and execution
# time in ms, mean execution in ms, the statement's start. Nested
# statements (those the triggers and functions run) are marked `nested`;
# their time is also in the statement that ran them. Then the cluster's
# CPU seconds for the run and the saves made, from which the CPU per save.
# The extension costs time of its own: compare saves/s with
# bench/saves.sh, not with this. Needs the release build of cafe,
# bench_corpus and bench_client (see bench/README.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:?usage: bench/save_statements.sh DIR [SECONDS]}
SECONDS_EACH=${2:-10}
PORT=${BENCH_PORT:-38181}
BIN=$ROOT/target/release
base=$(bash "$ROOT/.ci/postgres.sh" start "$DIR" 2>/dev/null)
conf="$DIR/data/postgresql.auto.conf"
if ! grep -q pg_stat_statements "$conf"; then
  printf "shared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = all\npg_stat_statements.track_planning = on\n" >>"$conf"
  bash "$ROOT/.ci/postgres.sh" stop "$DIR" 2>/dev/null
  bash "$ROOT/.ci/postgres.sh" start "$DIR" >/dev/null 2>&1
fi
url="${base%/*}/savestatements?sslmode=disable"
source "$ROOT/bench/cpu.sh"
source "$ROOT/bench/local.sh"
pg() { as_owner "$PG_BIN/psql" -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres -d postgres -qAt "$@"; }
pg -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
OUT=$(mktemp -d /tmp/cafe-statements.XXXXXX)
"$BIN/examples/bench_corpus" --db "$url" --pages 1000 --out "$OUT" --replace >"$OUT/summary.txt" 2>"$OUT/progress.txt"
save_sample "$OUT" "$OUT/sample.txt"
"$BIN/cafe" --db "$url" --addr "127.0.0.1:$PORT" >"$OUT/cafe.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$OUT"' EXIT
wait_for_cafe "$PORT"
pg -c "SELECT pg_stat_statements_reset()" >/dev/null
before=$(pg_cpu)
line=$("$BIN/examples/bench_client" saves --base "http://127.0.0.1:$PORT" --users "$OUT/users.txt" \
  --slugs "$OUT/sample.txt" --conns 4 --seconds "$SECONDS_EACH" 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
after=$(pg_cpu)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores"
echo "# saves: $line"
pg -F ' | ' -c "SELECT calls, plans, round(total_plan_time::numeric, 1), round(total_exec_time::numeric, 1),
                       round(mean_exec_time::numeric, 3), CASE WHEN toplevel THEN '' ELSE 'nested' END,
                       left(regexp_replace(query, '\s+', ' ', 'g'), 90)
                FROM pg_stat_statements WHERE calls >= 100
                ORDER BY total_exec_time + total_plan_time DESC LIMIT 25" |
  sed '1i calls | plans | plan ms | exec ms | mean ms | | statement'
saves=$(awk '{print $6}' <<<"$line")
ticks=$(getconf CLK_TCK)
awk -v d=$((after - before)) -v t="$ticks" -v s="$saves" \
  'BEGIN { printf "# PostgreSQL CPU: %.1f s for %d saves, %.2f ms per save (edit form and save)\n", d / t, s, s ? 1000 * d / t / s : 0 }'
