#!/usr/bin/env bash
# Cafe benchmark, end to end: bench/run.sh [PAGES]   (PAGES: 1000 by default; 10000, 100000)
#
# Installs wrk, nginx and curl if missing (Debian), builds the release binary
# and the bench examples, generates a corpus of PAGES method pages, starts
# Cafe on 127.0.0.1, renders a sample of its pages to static HTML served by
# nginx on a private port, runs every scenario at 4 and 64 connections for
# BENCH_SECONDS each, and writes the table to bench/out/results-PAGES.md.
# Everything it starts is stopped when it ends, however it ends.
#
# Knobs (environment): BENCH_SECONDS (10), BENCH_CONNS ("4 64"), BENCH_THREADS
# (wrk threads, 2), BENCH_PORT (38080), BENCH_STATIC_PORT (38081),
# BENCH_SAMPLE (pages used for page views and the static twin, 20000),
# BENCH_EDITORS (4), BENCH_NO_BUILD=1 (use the binaries already built),
# BENCH_REUSE_CORPUS=1 (keep the corpus of an earlier run of the same size),
# CARGO_TARGET_DIR.
set -euo pipefail

PAGES=${1:-1000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
SECONDS_EACH=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-"4 64"}
THREADS=${BENCH_THREADS:-2}
PORT=${BENCH_PORT:-38080}
STATIC_PORT=${BENCH_STATIC_PORT:-38081}
SAMPLE=${BENCH_SAMPLE:-20000}
EDITORS=${BENCH_EDITORS:-4}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CAFE_URL=http://127.0.0.1:$PORT
STATIC_URL=http://127.0.0.1:$STATIC_PORT
CORPUS=$OUT/corpus-$PAGES
DB=$CORPUS/bench.db
RUN=$OUT/run-$PAGES
RESULTS=$OUT/results-$PAGES.md
CAFE_PID=
NGINX_PID=
T0=$(date +%s)

log() { printf '[bench %3ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

stop_all() {
  if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  if [[ -n $CAFE_PID ]] && kill -0 "$CAFE_PID" 2>/dev/null; then
    kill -TERM "$CAFE_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$CAFE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CAFE_PID" 2>/dev/null || true
    wait "$CAFE_PID" 2>/dev/null || true
  fi
  NGINX_PID= CAFE_PID=
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

# --- tools -------------------------------------------------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! command -v wrk >/dev/null || [[ ! -x $NGINX ]] || ! command -v curl >/dev/null; then
  log "installing wrk, nginx and curl (Debian packages)"
  SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk curl nginx-light >/dev/null 2>&1 \
    || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk curl nginx >/dev/null
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
fi
for port in "$PORT" "$STATIC_PORT"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "bench: something already listens on 127.0.0.1:$port; set BENCH_PORT / BENCH_STATIC_PORT" >&2
    exit 1
  fi
done

# --- build -------------------------------------------------------------------
if [[ ${BENCH_NO_BUILD:-0} != 1 ]]; then
  log "building the release binary and the bench examples"
  (cd "$ROOT" && cargo build --release --quiet --bin cafe --example bench_corpus --example bench_client)
fi
CAFE=$TARGET/release/cafe
CORPUS_BIN=$TARGET/release/examples/bench_corpus
CLIENT_BIN=$TARGET/release/examples/bench_client

# --- corpus ------------------------------------------------------------------
rm -rf "$RUN"
mkdir -p "$RUN/paths" "$RUN/static/methods" "$RUN/nginx/tmp"
if [[ ${BENCH_REUSE_CORPUS:-0} == 1 && -s $CORPUS/summary.txt ]]; then
  log "reusing the corpus in ${CORPUS#"$ROOT"/} (pages saved by earlier runs keep their extra revisions)"
else
  rm -rf "$CORPUS"
  mkdir -p "$CORPUS"
  log "generating $PAGES pages"
  TIMEFORMAT='%R %U %S'
  { time "$CORPUS_BIN" --db "$DB" --pages "$PAGES" --out "$CORPUS" >"$CORPUS/summary.txt" 2>"$CORPUS/progress.txt"; } 2>"$CORPUS/time.txt" \
    || { cat "$CORPUS/progress.txt" >&2; rm -f "$CORPUS/summary.txt"; exit 1; }
fi
cp "$CORPUS/summary.txt" "$RUN/corpus.txt"
read -r gen_wall gen_user gen_sys <"$CORPUS/time.txt"
gen_cpu=$(awk -v u="$gen_user" -v s="$gen_sys" 'BEGIN { printf "%.1f", u + s }')
log "$(cat "$RUN/corpus.txt") (wall ${gen_wall} s, CPU ${gen_cpu} s)"

# The page-view sample (every page up to BENCH_SAMPLE), shared by Cafe and nginx.
# slugs.tsv: the slug, then the slug percent-encoded (slugs keep non-ASCII letters).
shuf -n "$SAMPLE" --random-source=<(yes) "$CORPUS/slugs.tsv" >"$RUN/sample.tsv"
cut -f2 "$RUN/sample.tsv" >"$RUN/sample.txt"
sed 's|^|/methods/|' "$RUN/sample.txt" >"$RUN/paths/page.txt"
sed 's|^|/methods?|' "$CORPUS/tag_pairs.txt" >"$RUN/paths/list.txt"
echo /tags >"$RUN/paths/tags.txt"
sed 's|^|/search?q=|' "$CORPUS/queries.txt" >"$RUN/paths/search.txt"
sed 's|^|/methods/|; s|$|/history|' "$CORPUS/history_slugs.txt" >"$RUN/paths/history.txt"
[[ -s $RUN/paths/history.txt ]] || head -50 "$RUN/paths/page.txt" | sed 's|$|/history|' >"$RUN/paths/history.txt"
echo /recent.atom >"$RUN/paths/atom.txt"

# --- start Cafe, time to first 200 -------------------------------------------
vm() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$CAFE_PID/status" 2>/dev/null || echo "?"; }
status_of() { curl -s -o /dev/null -w '%{http_code}' "$1" || true; }
first_page=$(head -1 "$RUN/sample.txt")
log "starting Cafe on $CAFE_URL"
started=$(now_ms)
CAFE_DB=$DB CAFE_ADDR=127.0.0.1:$PORT "$CAFE" >"$RUN/cafe.log" 2>&1 &
CAFE_PID=$!
until [[ $(status_of "$CAFE_URL/healthz") == 200 ]]; do
  kill -0 "$CAFE_PID" 2>/dev/null || { cat "$RUN/cafe.log" >&2; echo "bench: Cafe did not start" >&2; exit 1; }
  (( $(now_ms) - started < 60000 )) || { echo "bench: Cafe not ready after 60 s" >&2; exit 1; }
  sleep 0.005
done
startup_health_ms=$(( $(now_ms) - started ))
page_status=$(status_of "$CAFE_URL/methods/$first_page")
startup_page_ms=$(( $(now_ms) - started ))
[[ $page_status == 200 ]] || { echo "bench: /methods/$first_page answered $page_status" >&2; exit 1; }
rss_idle=$(vm VmRSS)
log "first 200: /healthz after ${startup_health_ms} ms, first page view after ${startup_page_ms} ms; RSS ${rss_idle} MiB"

# --- the static twin: the same pages, fetched once, served by nginx ----------
log "rendering $(wc -l <"$RUN/sample.tsv") pages to static HTML"
awk -F'\t' -v base="$CAFE_URL" -v dir="$RUN/static/methods" \
  '{ printf "url = \"%s/methods/%s\"\noutput = \"%s/%s.html\"\n", base, $2, dir, $1 }' "$RUN/sample.tsv" >"$RUN/curl.conf"
curl -s -S -f --no-progress-meter --parallel --parallel-max 4 -K "$RUN/curl.conf" 2>>"$RUN/curl.log"
user_line=; [[ $(id -u) -eq 0 ]] && user_line="user root;"
cat >"$RUN/nginx/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 2;
pid $RUN/nginx/nginx.pid;
error_log $RUN/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  default_type text/html;
  client_body_temp_path $RUN/nginx/tmp/body;
  proxy_temp_path $RUN/nginx/tmp/proxy;
  fastcgi_temp_path $RUN/nginx/tmp/fastcgi;
  uwsgi_temp_path $RUN/nginx/tmp/uwsgi;
  scgi_temp_path $RUN/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$STATIC_PORT;
    root $RUN/static;
    location /methods/ { try_files \$uri.html =404; }
  }
}
EOF
"$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" 2>>"$RUN/nginx/error.log" &
NGINX_PID=$!
for _ in $(seq 200); do [[ $(status_of "$STATIC_URL/methods/$first_page") == 200 ]] && break; sleep 0.05; done
[[ $(status_of "$STATIC_URL/methods/$first_page") == 200 ]] || { cat "$RUN/nginx/error.log" >&2; echo "bench: nginx did not serve" >&2; exit 1; }

# --- scenarios -----------------------------------------------------------------
ROWS=$RUN/rows.tsv
: >"$ROWS"
# record SCENARIO CONNS "RESULT line"
record() {
  local scenario=$1 conns=$2 line=$3
  if [[ $line != RESULT* ]]; then
    line=$(printf 'RESULT\t0\tnan\tnan\t-1\t0\tno result (see %s)' "$RUN")
  fi
  printf '%s\t%s\t%s\t%s\n' "$scenario" "$conns" "$(cut -f2- <<<"$line")" "$(vm VmHWM)" >>"$ROWS"
  log "$(printf '%-22s c=%-3s %s' "$scenario" "$conns" "$(cut -f2-4,7 <<<"$line" | tr '\t' ' ')")"
}
wrk_run() { # wrk_run SCENARIO URL PATHS CONNS  (raw output kept in $RUN/wrk-*.txt; one retry)
  local raw out try
  raw=$RUN/wrk-$(tr -c 'a-zA-Z0-9\n' '-' <<<"$1" | tr -s '-')c$4.txt
  for try in 1 2; do
    out=$(wrk -t"$THREADS" -c"$4" -d"${SECONDS_EACH}s" --timeout 10s -s "$BENCH/paths.lua" "$2" -- "$3" 2>&1 || echo "wrk exit status $?")
    printf '%s\n' "$out" >>"$raw"
    grep -q '^RESULT' <<<"$out" && break
    log "wrk gave no result for $1 at c=$4 (try $try): $(tail -1 <<<"$out")"
  done
  record "$1" "$4" "$(grep '^RESULT' <<<"$out" | head -1)"
}
has_route() { [[ $(status_of "$CAFE_URL$1") == 200 ]]; }

# A short warm-up of both servers so the first figure is not a cold start.
wrk -t1 -c4 -d2s -s "$BENCH/paths.lua" "$CAFE_URL" -- "$RUN/paths/page.txt" >/dev/null 2>&1 || true
wrk -t1 -c4 -d1s -s "$BENCH/paths.lua" "$STATIC_URL" -- "$RUN/paths/page.txt" >/dev/null 2>&1 || true

locked_before=$(grep -c 'database is locked' "$RUN/cafe.log" || true)
for c in $CONNS; do
  wrk_run "static page (nginx)" "$STATIC_URL" "$RUN/paths/page.txt" "$c"
  wrk_run "page view" "$CAFE_URL" "$RUN/paths/page.txt" "$c"
done
for c in $CONNS; do wrk_run "list, 2 tags" "$CAFE_URL" "$RUN/paths/list.txt" "$c"; done
for c in $CONNS; do wrk_run "/tags" "$CAFE_URL" "$RUN/paths/tags.txt" "$c"; done
if has_route "/search?q=team"; then
  for c in $CONNS; do wrk_run "search" "$CAFE_URL" "$RUN/paths/search.txt" "$c"; done
else
  log "no /search yet: search skipped"
fi
for c in $CONNS; do wrk_run "history" "$CAFE_URL" "$RUN/paths/history.txt" "$c"; done
if has_route "/recent.atom"; then
  for c in $CONNS; do wrk_run "Atom feed" "$CAFE_URL" "$RUN/paths/atom.txt" "$c"; done
else
  log "no /recent.atom yet: Atom feed skipped"
fi
hwm_reads=$(vm VmHWM)
locked_saves_before=$(grep -c 'database is locked' "$RUN/cafe.log" || true)
record "page save" "$EDITORS" "$("$CLIENT_BIN" saves --base "$CAFE_URL" --users "$CORPUS/users.txt" \
  --slugs "$RUN/sample.txt" --conns "$EDITORS" --seconds "$SECONDS_EACH" 2>>"$RUN/client.log" | grep '^RESULT' | head -1)"
locked_saves=$(( $(grep -c 'database is locked' "$RUN/cafe.log" || true) - locked_saves_before ))
hwm_saves=$(vm VmHWM)
for c in $CONNS; do
  record "sign-in" "$c" "$("$CLIENT_BIN" signin --base "$CAFE_URL" --users "$CORPUS/users.txt" \
    --conns "$c" --seconds "$SECONDS_EACH" 2>>"$RUN/client.log" | grep '^RESULT' | head -1)"
done
hwm_all=$(vm VmHWM)
locked_all=$(( $(grep -c 'database is locked' "$RUN/cafe.log" || true) - locked_before ))
server_errors=$(grep -ci 'error' "$RUN/cafe.log" || true)
db_mb=$(du -m "$DB" | cut -f1)
stop_all

# --- the table -----------------------------------------------------------------
{
  echo "# Cafe benchmark: $PAGES pages"
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src migrations templates 2>/dev/null || echo ' (+ uncommitted src changes)'),"\
       "$(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS, ${SECONDS_EACH} s per row."
  echo "Corpus: $(sed -n 's/^corpus: //p' "$RUN/corpus.txt"); database ${db_mb} MB; generated in ${gen_wall} s wall, ${gen_cpu} s CPU (user+sys)."
  echo "Page views pick from $(wc -l <"$RUN/sample.tsv") pages; nginx serves the same pages fetched once from Cafe."
  echo
  echo "| scenario | conns | req/s | p50 ms | p99 ms | ratio to static | errors | VmHWM after (MiB) | notes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -F'\t' '
    $1 == "static page (nginx)" { base[$2] = $3 }
    { rows[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        split(rows[i], f, "\t")
        # ratio to the static page view at the same connections (4 for the 4-editor saves)
        b = (f[2] in base) ? base[f[2]] : base[4]
        ratio = (b > 0) ? sprintf("%.3f", f[3] / b) : "-"
        printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], ratio, f[6], f[9], f[8]
      }
    }' "$ROWS"
  echo
  echo "- Start-up to first 200 with $PAGES pages: /healthz ${startup_health_ms} ms, first page view ${startup_page_ms} ms (RSS at rest ${rss_idle} MiB)."
  echo "- Peak RSS of the cafe process (VmHWM): ${hwm_reads} MiB after the read scenarios, ${hwm_saves} MiB after saves, ${hwm_all} MiB after sign-in (argon2id takes 19 MiB per hash, two at a time)."
  echo "- 'database is locked' in the server log: ${locked_saves} during saves, ${locked_all} in the whole run; log lines mentioning 'error': ${server_errors}."
  echo "- Ratios: Cafe req/s divided by nginx's req/s for the same page sample at the same connection count (saves: at 4)."
} >"$RESULTS"
cat "$RESULTS"
log "done; results in ${RESULTS#"$ROOT"/}, logs in ${RUN#"$ROOT"/}"
