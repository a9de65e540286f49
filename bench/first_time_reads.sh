#!/usr/bin/env bash
# First-time searches and method lists before and after a burst of saves, on
# a corpus that bench/run.sh or bench_corpus made (its folder holds
# queries.txt, tag_pairs.txt, slugs.tsv and users.txt):
#
#   bench/first_time_reads.sh DB CORPUS_DIR [BINARY…]
#
# For each cafe binary in turn (default: target/release/cafe), on the same
# database: start it, ask every query of the corpus once (half one at a time,
# half over 4 connections, as run.sh's first-time rows do) and every two-tag
# list of the corpus once (the same split), let 4 editors save for
# BENCH_SAVE_SECONDS (10), wait BENCH_QUIET_SECONDS (6) with no write, and
# ask the queries again: the saves moved the content clock, so no kept
# answer is served and each is asked of the database anew. (The saves keep
# titles and tags, so the kept lists stay fresh: lists are walked only
# before.) One line per walk: requests/s, p50 and p99 in ms (bench_client's
# RESULT).
#
# On PostgreSQL the saves leave their words in the GIN indexes' pending
# lists, which each search reads whole until they are merged
# (src/search/upkeep.rs); comparing a binary that merges them in the quiet
# moment with one that does not shows what that costs searches. Each binary
# leaves the database with more revisions than it found: alternate them.
# Binaries with different migrations cannot share a database.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/local.sh"
(( $# >= 2 )) || { echo "usage: bench/first_time_reads.sh DB CORPUS_DIR [BINARY…]" >&2; exit 2; }
DB=$1 CORPUS=$2
shift 2
(( $# >= 1 )) || set -- "$ROOT/target/release/cafe"
CLIENT=$ROOT/target/release/examples/bench_client
PORT=${BENCH_PORT:-28280}
SAVE_SECONDS=${BENCH_SAVE_SECONDS:-10}
QUIET_SECONDS=${BENCH_QUIET_SECONDS:-6}
OUT=$(mktemp -d /tmp/cafe-search-after-saves.XXXXXX)
trap 'stop_cafe; rm -rf "$OUT"' EXIT

# The queries as run.sh splits them: the first and last left out, then odd
# lines one at a time and even lines over 4 connections.
sed 's|^|/search?q=|' "$CORPUS/queries.txt" | sed '1d;$d' >"$OUT/all.txt"
awk 'NR % 2 == 1' "$OUT/all.txt" >"$OUT/one.txt"
awk 'NR % 2 == 0' "$OUT/all.txt" >"$OUT/four.txt"
sed 's|^|/methods?|' "$CORPUS/tag_pairs.txt" >"$OUT/lists.txt"
awk 'NR % 2 == 1' "$OUT/lists.txt" >"$OUT/lists-one.txt"
awk 'NR % 2 == 0' "$OUT/lists.txt" >"$OUT/lists-four.txt"
cut -f2 "$CORPUS/slugs.tsv" | shuf -n 20000 --random-source=<(yes) >"$OUT/sample.txt"
walk() { # label paths-at-1 paths-at-4
  local one four
  one=$("$CLIENT" walk --base "http://127.0.0.1:$PORT" --paths "$2" --conns 1 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
  four=$("$CLIENT" walk --base "http://127.0.0.1:$PORT" --paths "$3" --conns 4 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
  echo "  $1: 1 conn $(cut -f2-4 <<<"$one" | tr '\t' ' '); 4 conns $(cut -f2-4 <<<"$four" | tr '\t' ' ')"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(wc -l <"$OUT/one.txt") + $(wc -l <"$OUT/four.txt") queries, $(wc -l <"$OUT/lists-one.txt") + $(wc -l <"$OUT/lists-four.txt") lists; each walk: requests/s p50 p99 (ms)"
for binary in "$@"; do
  start_cafe "$binary" "$DB" "$PORT" "$OUT/cafe.log"
  echo "$binary"
  walk "searches before saves" "$OUT/one.txt" "$OUT/four.txt"
  walk "lists" "$OUT/lists-one.txt" "$OUT/lists-four.txt"
  saves=$("$CLIENT" saves --base "http://127.0.0.1:$PORT" --users "$CORPUS/users.txt" --slugs "$OUT/sample.txt" \
    --conns 4 --seconds "$SAVE_SECONDS" 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
  echo "  saves: $(cut -f2 <<<"$saves")/s for $SAVE_SECONDS s, then $QUIET_SECONDS s quiet"
  sleep "$QUIET_SECONDS"
  walk "searches after saves" "$OUT/one.txt" "$OUT/four.txt"
  stop_cafe
done
