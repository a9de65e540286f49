#!/usr/bin/env bash
# What a save writes to PostgreSQL's WAL: `bench/save_wal.sh DIR DATABASE
# CORPUS [SECONDS]` starts one release `cafe` on DATABASE of the cluster in
# DIR (a `.ci/postgres.sh` cluster, started if it is not), a database that
# already holds a corpus `bench_corpus` made with `--out CORPUS` (after
# `bench/run.sh N --db …/DATABASE`, CORPUS is bench/out/corpus-postgres-N),
# runs `bench_client saves` (4 editors, SECONDS, 8) on 500 of its pages,
# and prints the saves, the WAL they wrote per save (records, full-page
# images, bytes; `pg_stat_wal`), the checkpoints begun meanwhile, and
# `pg_waldump --stats=record` over the run's WAL, largest first, then the
# same WAL by relation (which table or index took it). Run it as
# root or as the cluster's owner (pg_waldump reads the cluster's files).
# Needs the release build of cafe and bench_client.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:?usage: bench/save_wal.sh DIR DATABASE CORPUS [SECONDS]}
DATABASE=${2:?usage: bench/save_wal.sh DIR DATABASE CORPUS [SECONDS]}
CORPUS=${3:?usage: bench/save_wal.sh DIR DATABASE CORPUS [SECONDS]}
SECONDS_EACH=${4:-8}
PORT=${BENCH_PORT:-38281}
BIN=$ROOT/target/release
base=$(bash "$ROOT/.ci/postgres.sh" start "$DIR" 2>/dev/null)
url="${base%/*}/$DATABASE?sslmode=disable"
source "$ROOT/bench/local.sh"
pg() { as_owner "$PG_BIN/psql" -h 127.0.0.1 -p "$(cat "$DIR/port")" -d "$DATABASE" -qAt -F ' ' -c "$1"; }
OUT=$(mktemp -d /tmp/cafe-wal.XXXXXX)
save_sample "$CORPUS" "$OUT/sample.txt"
"$BIN/cafe" --db "$url" --addr "127.0.0.1:$PORT" >"$OUT/cafe.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$OUT"' EXIT
wait_for_cafe "$PORT"
wal="SELECT pg_current_wal_lsn(), wal_records, wal_fpi, wal_bytes,
            (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter) FROM pg_stat_wal"
read -r lsn_before records_before fpi_before bytes_before checkpoints_before <<<"$(pg "$wal")"
line=$("$BIN/examples/bench_client" saves --base "http://127.0.0.1:$PORT" --users "$CORPUS/users.txt" \
  --slugs "$OUT/sample.txt" --conns 4 --seconds "$SECONDS_EACH" 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
read -r lsn_after records_after fpi_after bytes_after checkpoints_after <<<"$(pg "$wal")"
saves=$(awk '{print $6}' <<<"$line")
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, database $DATABASE ($(pg "SELECT pg_size_pretty(pg_database_size(current_database()))")), shared_buffers $(pg "SHOW shared_buffers"), max_wal_size $(pg "SHOW max_wal_size")"
echo "# saves: $line"
awk -v s="$saves" -v r=$((records_after - records_before)) -v f=$((fpi_after - fpi_before)) \
  -v b=$((bytes_after - bytes_before)) -v c=$((checkpoints_after - checkpoints_before)) \
  'BEGIN { if (s) printf "# WAL per save: %.0f records, %.1f full-page images, %.1f KB; %d checkpoints begun during the run\n", r / s, f / s, b / 1000 / s, c }'
echo "# pg_waldump --stats=record $lsn_before..$lsn_after, by combined size:"
dump=$(as_owner "$PG_BIN/pg_waldump" --stats=record -s "$lsn_before" -e "$lsn_after" -p "$DIR/data/pg_wal" 2>/dev/null)
grep -E '^(Type|Total)' <<<"$dump"
# A record type's line: "Type N (%) record bytes (%) FPI bytes (%) combined bytes (%)".
grep -E '^[A-Za-z0-9]+/' <<<"$dump" | awk -F'[()]' '{ print $7 + 0 "\t" $0 }' | sort -rn | head -14 | cut -f2-
echo "# the same WAL by relation (the 8 that took most; bytes with full-page images, records, per save):"
names=$(pg "SELECT relfilenode, relname FROM pg_class WHERE relfilenode <> 0")
as_owner "$PG_BIN/pg_waldump" -s "$lsn_before" -e "$lsn_after" -p "$DIR/data/pg_wal" 2>/dev/null |
  awk -v s="$saves" -v names="$names" '
    BEGIN { n = split(names, rows, "\n"); for (i = 1; i <= n; i++) { split(rows[i], f, " "); name[f[1]] = f[2] } }
    match($0, /rel [0-9]+\/[0-9]+\/[0-9]+/) {
      split(substr($0, RSTART + 4, RLENGTH - 4), r, "/")
      match($0, /len \(rec\/tot\): *[0-9]+\/ *[0-9]+/)
      len = substr($0, RSTART, RLENGTH); sub(/.*\/ */, "", len)
      key = (r[3] in name) ? name[r[3]] : "relfilenode " r[3]
      bytes[key] += len; count[key]++
    }
    END { for (k in bytes) printf "%d\t%s: %.1f KB, %.1f records\n", bytes[k], k, bytes[k] / 1000 / s, count[k] / s }' |
  sort -rn | head -8 | cut -f2-
