#!/usr/bin/env bash
# Who merges the search index's GIN pending lists on PostgreSQL, and what
# saves and searches pay for it, on a corpus that bench/run.sh or
# bench_corpus made (its folder holds queries.txt, slugs.tsv and users.txt):
#
#   bench/gin_merges.sh DB CORPUS_DIR BINARY[:LIMIT_KB[:WORK_MEM]] [BINARY[:LIMIT_KB[:WORK_MEM]]…]
#
# For each cafe binary in turn, on the same database: merge the pending
# lists, set the GIN indexes' gin_pending_list_limit to LIMIT_KB if given
# (4096 is PostgreSQL's default, which Cafe keeps) and the database's
# work_mem to WORK_MEM if given (for example 16MB; the server's own, 4MB
# by default, otherwise: a save that merges a list sorts in it), start
# the binary, let 4
# editors save for BENCH_SAVE_SECONDS (40) and, BENCH_SEARCH_AFTER (15)
# seconds in, walk the corpus's odd-numbered queries once over 1
# connection. Then stop the binary (SIGSTOP, so its upkeep merges nothing
# more) and time the merge of what the lists still hold, which is work the
# run left for later. One line per binary: saves/s p50 p99 (ms), the save
# statements sqlx logged as slower than 1 s, the searches' requests/s p50
# p99, and the merge left (pages, seconds). Alternate the binaries: each
# run leaves more revisions. A binary whose migrations set the limit
# sets it again when it first starts on the database, after this script
# has. Needs psql, the release bench_client, and the
# database's owner role in DB (gin_clean_pending_list and ALTER INDEX).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/local.sh"
(( $# >= 3 )) || { echo "usage: bench/gin_merges.sh DB CORPUS_DIR BINARY[:LIMIT_KB[:WORK_MEM]]…" >&2; exit 2; }
DB=$1 CORPUS=$2
shift 2
CLIENT=$ROOT/target/release/examples/bench_client
PORT=${BENCH_PORT:-28290}
SAVE_SECONDS=${BENCH_SAVE_SECONDS:-40}
SEARCH_AFTER=${BENCH_SEARCH_AFTER:-15}
INDEXES=(search_index_document search_index_pairs search_index_heading)
OUT=$(mktemp -d /tmp/cafe-gin-merges.XXXXXX)
trap 'stop_cafe; rm -rf "$OUT"' EXIT
pg() { psql "$DB" -qAt -v ON_ERROR_STOP=1 -c "$1"; }
# merged: the pending pages every list held, and the seconds it took.
merged() {
  local start pages
  start=$(date +%s.%N)
  pages=$(pg "SELECT $(printf "gin_clean_pending_list('%s'::regclass) + " "${INDEXES[@]}")0")
  echo "$pages pages in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }') s"
}

sed 's|^|/search?q=|' "$CORPUS/queries.txt" | sed '1d;$d' | awk 'NR % 2 == 1' >"$OUT/searches.txt"
save_sample "$CORPUS" "$OUT/sample.txt"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(pg "SELECT count(*) FROM pages") pages"
echo "# 4 editors for $SAVE_SECONDS s; $(wc -l <"$OUT/searches.txt") searches over 1 connection from $SEARCH_AFTER s in"
for spec in "$@"; do
  IFS=: read -r binary limit work_mem <<<"$spec"
  merged >/dev/null
  if [[ -n $limit ]]; then
    for index in "${INDEXES[@]}"; do pg "ALTER INDEX $index SET (gin_pending_list_limit = $limit)"; done
  fi
  if [[ -n $work_mem ]]; then
    pg "ALTER DATABASE \"$(pg "SELECT current_database()")\" SET work_mem = '$work_mem'"
  else
    pg "ALTER DATABASE \"$(pg "SELECT current_database()")\" RESET work_mem"
  fi
  start_cafe "$binary" "$DB" "$PORT" "$OUT/cafe.log"
  "$CLIENT" saves --base "http://127.0.0.1:$PORT" --users "$CORPUS/users.txt" --slugs "$OUT/sample.txt" \
    --conns 4 --seconds "$SAVE_SECONDS" >"$OUT/saves.txt" 2>>"$OUT/client.log" &
  saver=$!
  sleep "$SEARCH_AFTER"
  searches=$("$CLIENT" walk --base "http://127.0.0.1:$PORT" --paths "$OUT/searches.txt" --conns 1 2>>"$OUT/client.log" | grep '^RESULT' | head -1)
  wait "$saver"
  kill -STOP "$CAFE_PID"
  saves=$(grep '^RESULT' "$OUT/saves.txt" | head -1)
  slow=$(grep -c 'slow statement' "$OUT/cafe.log" || true)
  left=$(merged)
  stop_cafe
  echo "$binary limit ${limit:-as set}, work_mem ${work_mem:-as the server has it}: saves $(cut -f2-4 <<<"$saves" | tr '\t' ' ') ($(cut -f7 <<<"$saves" | cut -d' ' -f1-3)), $slow slower than 1 s; searches meanwhile $(cut -f2-4 <<<"$searches" | tr '\t' ' '); merge left: $left"
done
pg "ALTER DATABASE \"$(pg "SELECT current_database()")\" RESET work_mem"
