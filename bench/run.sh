#!/usr/bin/env bash
# Cafe benchmark, end to end: bench/run.sh [PAGES]   (PAGES: 1000 by default; 10000, 100000)
#                              bench/run.sh [PAGES] [--db postgres://…] [--instances N]
#
# --db URL (or BENCH_DB): the corpus goes into that PostgreSQL database
# (dropped and made anew: the role needs CREATEDB) and the server(s) run on
# it. --instances N (or BENCH_INSTANCES; PostgreSQL only when N > 1): N cafe
# processes on 127.0.0.1, ports BENCH_INSTANCE_PORT (28091) and up, behind a
# second private nginx on BENCH_PORT that round-robins over them (keepalive
# upstream connections); every client (wrk, bench_client, curl) goes through
# it. BENCH_FRONT=1 puts that nginx in front of a single instance too, to
# compare like with like. With either flag the results and the run's folder
# are named for them (results-PAGES-postgres-2-instances.md); without, the
# run is the SQLite one described below.
#
# Installs wrk, nginx and curl if missing (Debian), builds the release binary
# and the bench examples, generates a corpus of PAGES method pages, starts
# Cafe on 127.0.0.1, renders a sample of its pages to static HTML served by
# nginx on a private port, runs every scenario at 4 and 64 connections for
# BENCH_SECONDS each, and writes the table to bench/out/results-PAGES.md.
# Before anything else reads a page, a cold pass views every sampled page
# once on the freshly started server (empty visitors' cache). After the
# visitors' rows come the same reads as signed-in members (session cookies
# from bench_client cookie), then page views while saves and sign-in form
# views go on in the background (with the visitors' cache hit rate from
# GET /healthz/cache), then saves and sign-ins. A scenario whose route does
# not answer 200 (or, for members, does not show the member signed in) stops
# the run with a message. Everything it starts is stopped when it ends,
# however it ends.
#
# Knobs (environment): BENCH_SECONDS (10), BENCH_CONNS ("4 64"), BENCH_THREADS
# (wrk threads, 2), BENCH_PORT (28080), BENCH_STATIC_PORT (28081),
# BENCH_DB, BENCH_INSTANCES (1), BENCH_INSTANCE_PORT (28091), BENCH_FRONT (0),
# (the default ports lie below Linux's range for outgoing connections,
# 32768-60999, so that a client's own connection cannot hold one a moment;
# a run once failed to start on 38092 that way),
# BENCH_SAMPLE (pages used for page views and the static twin, 20000),
# BENCH_EDITORS (4), BENCH_SAVE_RUNS (runs of the save row, the median kept, 3),
# BENCH_COLD_CONNS (connections of the cold pass, 4),
# BENCH_MEMBERS (member sessions the member rows take turns with, 3),
# BENCH_MIXED_CONNS (64), BENCH_MIXED_SAVES (saves/s, 2), BENCH_MIXED_SIGNINS
# (GET /signin per second, 5), BENCH_NO_BUILD=1 (use the binaries already
# built), BENCH_REUSE_CORPUS=1 (keep the corpus of an earlier run of the same
# size), BENCH_UPLOADS (uploads in each upload row, 60),
# CAFE_UPLOADS_PER_HOUR (the server's throttle, 1000000 here), CARGO_TARGET_DIR.
# The file rows need python3 (to make the PNGs and the PDF they upload).
set -euo pipefail
unset BENCH_COOKIE # paths.lua would send it with every request, visitors' rows too

usage() {
  echo "usage: bench/run.sh [PAGES] [--db postgres://USER:PASS@HOST:PORT/DB] [--instances N]" >&2
  exit 2
}
PAGES=1000
DB_URL=${BENCH_DB:-}
INSTANCES=${BENCH_INSTANCES:-1}
while (( $# )); do
  case $1 in
    --db) [[ $# -ge 2 ]] || usage; DB_URL=$2; shift 2 ;;
    --db=*) DB_URL=${1#--db=}; shift ;;
    --instances) [[ $# -ge 2 ]] || usage; INSTANCES=$2; shift 2 ;;
    --instances=*) INSTANCES=${1#--instances=}; shift ;;
    -h|--help) usage ;;
    *) [[ $1 =~ ^[0-9]+$ ]] || usage; PAGES=$1; shift ;;
  esac
done
[[ $INSTANCES =~ ^[1-9][0-9]*$ ]] || { echo "bench: --instances takes a number from 1" >&2; exit 2; }
BACKEND=sqlite
if [[ -n $DB_URL ]]; then
  [[ $DB_URL == postgres://* || $DB_URL == postgresql://* ]] \
    || { echo "bench: --db takes a PostgreSQL URL (postgres://…); the SQLite corpus lives in bench/out" >&2; exit 2; }
  BACKEND=postgres
fi
(( INSTANCES == 1 )) || [[ $BACKEND == postgres ]] \
  || { echo "bench: several instances share one database only on PostgreSQL: add --db postgres://…" >&2; exit 2; }
FRONT=0
(( INSTANCES > 1 )) || [[ ${BENCH_FRONT:-0} == 1 ]] && FRONT=1
# The name of a run that is not the default (SQLite, one instance, no front).
SUFFIX=
if [[ $BACKEND == postgres || $INSTANCES -gt 1 || $FRONT == 1 ]]; then
  if (( INSTANCES > 1 )); then SUFFIX=-$BACKEND-$INSTANCES-instances; else SUFFIX=-$BACKEND-1-instance; fi
  (( INSTANCES == 1 && FRONT == 1 )) && SUFFIX=$SUFFIX-nginx
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out
SECONDS_EACH=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-"4 64"}
THREADS=${BENCH_THREADS:-2}
PORT=${BENCH_PORT:-28080}
STATIC_PORT=${BENCH_STATIC_PORT:-28081}
SAMPLE=${BENCH_SAMPLE:-20000}
EDITORS=${BENCH_EDITORS:-4}
SAVE_RUNS=${BENCH_SAVE_RUNS:-3}
COLD_CONNS=${BENCH_COLD_CONNS:-4}
MEMBERS=${BENCH_MEMBERS:-3}
MIXED_CONNS=${BENCH_MIXED_CONNS:-64}
MIXED_SAVES=${BENCH_MIXED_SAVES:-2}
MIXED_SIGNINS=${BENCH_MIXED_SIGNINS:-5}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
CAFE_URL=http://127.0.0.1:$PORT
STATIC_URL=http://127.0.0.1:$STATIC_PORT
INSTANCE_PORT=${BENCH_INSTANCE_PORT:-28091}
if [[ $BACKEND == postgres ]]; then
  CORPUS=$OUT/corpus-postgres-$PAGES # the lists; the data is in the database
  DB=$DB_URL
else
  CORPUS=$OUT/corpus-$PAGES
  DB=$CORPUS/bench.db
fi
RUN=$OUT/run-$PAGES$SUFFIX
RESULTS=$OUT/results-$PAGES$SUFFIX.md
# The instances: their URLs (CAFE_URL itself, or the ports behind the front).
INSTANCE_URLS=("$CAFE_URL")
if (( FRONT )); then
  INSTANCE_URLS=()
  for (( i = 0; i < INSTANCES; i++ )); do INSTANCE_URLS+=("http://127.0.0.1:$(( INSTANCE_PORT + i ))"); done
fi
# Their logs: cafe.log for one, cafe-1.log … for several.
CAFE_LOGS=("$RUN/cafe.log")
if (( INSTANCES > 1 )); then
  CAFE_LOGS=()
  for (( i = 1; i <= INSTANCES; i++ )); do CAFE_LOGS+=("$RUN/cafe-$i.log"); done
fi
CAFE_LOG_HINT=$RUN/cafe.log; (( INSTANCES > 1 )) && CAFE_LOG_HINT="$RUN/cafe-*.log"
CAFE_PIDS=()
NGINX_PID=
FRONT_PID=
BG_PID=
T0=$(date +%s)

log() { printf '[bench %3ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
die() { echo "bench: $*" >&2; exit 1; }

stop_all() {
  if [[ -n $BG_PID ]] && kill -0 "$BG_PID" 2>/dev/null; then
    kill -TERM "$BG_PID" 2>/dev/null || true
    wait "$BG_PID" 2>/dev/null || true
  fi
  if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
  fi
  if [[ -n $FRONT_PID ]] && kill -0 "$FRONT_PID" 2>/dev/null; then
    kill -TERM "$FRONT_PID" 2>/dev/null || true
    wait "$FRONT_PID" 2>/dev/null || true
  fi
  local pid
  for pid in "${CAFE_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${CAFE_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  NGINX_PID='' FRONT_PID='' CAFE_PIDS=() BG_PID=''
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
for port in "$PORT" "$STATIC_PORT" $( (( FRONT )) && printf '%s ' "${INSTANCE_URLS[@]##*:}" || true); do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "bench: something already listens on 127.0.0.1:$port; set BENCH_PORT / BENCH_STATIC_PORT / BENCH_INSTANCE_PORT" >&2
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
# PostgreSQL: the corpus folder keeps the lists, and which database holds the data.
redacted() { sed -E 's|^(postgres(ql)?://[^:/@]*):[^@]*@|\1@|' <<<"$1"; }
if [[ ${BENCH_REUSE_CORPUS:-0} == 1 && -s $CORPUS/summary.txt ]] \
  && { [[ $BACKEND == sqlite ]] || [[ $(cat "$CORPUS/db.txt" 2>/dev/null) == "$(redacted "$DB")" ]]; }; then
  log "reusing the corpus in ${CORPUS#"$ROOT"/} (pages saved by earlier runs keep their extra revisions)"
else
  rm -rf "$CORPUS"
  mkdir -p "$CORPUS"
  corpus_flags=()
  if [[ $BACKEND == postgres ]]; then
    log "generating $PAGES pages into $(redacted "$DB") (the database is dropped and made anew)"
    corpus_flags=(--replace)
  else
    log "generating $PAGES pages"
  fi
  TIMEFORMAT='%R %U %S'
  { time "$CORPUS_BIN" --db "$DB" --pages "$PAGES" --out "$CORPUS" "${corpus_flags[@]}" >"$CORPUS/summary.txt" 2>"$CORPUS/progress.txt"; } 2>"$CORPUS/time.txt" \
    || { cat "$CORPUS/progress.txt" >&2; rm -f "$CORPUS/summary.txt"; exit 1; }
  [[ $BACKEND == sqlite ]] || redacted "$DB" >"$CORPUS/db.txt"
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
echo /signin >"$RUN/paths/signin.txt"

# --- start Cafe, time to first 200 -------------------------------------------
# vm FIELD: the field of /proc/PID/status in MiB (summed over the instances).
if (( INSTANCES == 1 )); then
  vm() { awk -v k="$1:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/${CAFE_PIDS[0]}/status" 2>/dev/null || echo "?"; }
else
  vm() {
    local pid files=()
    for pid in "${CAFE_PIDS[@]}"; do files+=("/proc/$pid/status"); done
    awk -v k="$1:" '$1 == k { s += $2; n++ } END { if (n) printf "%.1f", s / 1024; else print "?" }' "${files[@]}" 2>/dev/null || true
  }
fi
status_of() { curl -s -o /dev/null -w '%{http_code}' "$1" || true; }
first_page=$(head -1 "$RUN/sample.txt")
if (( FRONT )); then
  # The front: a private nginx on CAFE_URL, round-robin over the instances,
  # with the proxy headers docs/deploy.md gives (the instances trust
  # X-Forwarded-For). Started first; it answers 502 until they are up.
  mkdir -p "$RUN/front/tmp"
  {
    [[ $(id -u) -eq 0 ]] && echo "user root;"
    cat <<EOF
daemon off;
worker_processes 2;
pid $RUN/front/nginx.pid;
error_log $RUN/front/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path $RUN/front/tmp/body;
  proxy_temp_path $RUN/front/tmp/proxy;
  fastcgi_temp_path $RUN/front/tmp/fastcgi;
  uwsgi_temp_path $RUN/front/tmp/uwsgi;
  scgi_temp_path $RUN/front/tmp/scgi;
  upstream cafe {
$(for url in "${INSTANCE_URLS[@]}"; do echo "    server ${url#http://};"; done)
    keepalive 128;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$PORT;
    # Uploads up to cafe's --file-max-mib (20) plus the form: nginx's
    # default of 1m answered the 1 MiB upload rows 413 itself.
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
    }
  }
}
EOF
  } >"$RUN/front/nginx.conf"
  "$NGINX" -e "$RUN/front/error.log" -p "$RUN/front" -c "$RUN/front/nginx.conf" 2>>"$RUN/front/error.log" &
  FRONT_PID=$!
  log "starting $INSTANCES Cafe instance(s) on ${INSTANCE_URLS[*]#http://} ($BACKEND), nginx in front on $CAFE_URL"
else
  log "starting Cafe on $CAFE_URL"
fi
# The upload rows make more uploads per member than the hourly throttle
# (60) allows; the bench lifts it so they measure the uploads, not 429s.
UPLOADS_PER_HOUR=${CAFE_UPLOADS_PER_HOUR:-1000000}
started=$(now_ms)
for i in "${!INSTANCE_URLS[@]}"; do
  if (( FRONT )); then
    CAFE_UPLOADS_PER_HOUR=$UPLOADS_PER_HOUR CAFE_DB=$DB CAFE_ADDR=${INSTANCE_URLS[i]#http://} CAFE_TRUST_PROXY=x-forwarded-for CAFE_PUBLIC_URL=$CAFE_URL \
      "$CAFE" >"${CAFE_LOGS[i]}" 2>&1 &
  else
    CAFE_UPLOADS_PER_HOUR=$UPLOADS_PER_HOUR CAFE_DB=$DB CAFE_ADDR=127.0.0.1:$PORT "$CAFE" >"$RUN/cafe.log" 2>&1 &
  fi
  CAFE_PIDS+=($!)
done
for i in "${!INSTANCE_URLS[@]}"; do
  until [[ $(status_of "${INSTANCE_URLS[i]}/healthz") == 200 ]]; do
    kill -0 "${CAFE_PIDS[i]}" 2>/dev/null || { cat "${CAFE_LOGS[i]}" >&2; echo "bench: Cafe did not start" >&2; exit 1; }
    (( $(now_ms) - started < 60000 )) || { echo "bench: Cafe not ready after 60 s" >&2; exit 1; }
    sleep 0.005
  done
done
startup_health_ms=$(( $(now_ms) - started ))
if (( FRONT )); then
  for _ in $(seq 200); do [[ $(status_of "$CAFE_URL/healthz") == 200 ]] && break; sleep 0.05; done
  [[ $(status_of "$CAFE_URL/healthz") == 200 ]] || { cat "$RUN/front/error.log" >&2; echo "bench: the nginx in front did not serve" >&2; exit 1; }
fi
page_status=$(status_of "$CAFE_URL/methods/$first_page")
startup_page_ms=$(( $(now_ms) - started ))
[[ $page_status == 200 ]] || { echo "bench: /methods/$first_page answered $page_status" >&2; exit 1; }
rss_idle=$(vm VmRSS)
log "first 200: /healthz after ${startup_health_ms} ms, first page view after ${startup_page_ms} ms; RSS ${rss_idle} MiB"

# --- rows and checks ---------------------------------------------------------
ROWS=$RUN/rows.tsv
: >"$ROWS"
# record SCENARIO CONNS "RESULT line"
record() {
  local scenario=$1 conns=$2 line=$3
  if [[ $line != RESULT* ]]; then
    line=$(printf 'RESULT\t0\tnan\tnan\t-1\t0\tno result (see %s)' "$RUN")
  fi
  printf '%s\t%s\t%s\t%s\n' "$scenario" "$conns" "$(cut -f2- <<<"$line")" "$(vm VmHWM)" >>"$ROWS"
  log "$(printf '%-26s c=%-3s %s' "$scenario" "$conns" "$(cut -f2-4,7 <<<"$line" | tr '\t' ' ')")"
}
# with_note "RESULT line" NOTE: the line with NOTE added to its note field
with_note() { awk -F'\t' -v n="$2" 'BEGIN { OFS = "\t" } { $7 = ($7 == "" ? n : $7 "; " n); print }' <<<"$1"; }
# The visitors' cache counters since start: "HITS MISSES" (each instance's
# own, asked directly, summed).
cache_counts() {
  local json url
  for url in "${INSTANCE_URLS[@]}"; do
    json=$(curl -s -f "$url/healthz/cache") || die "GET /healthz/cache failed; the cache figures need it"
    sed -n 's/.*"hits":\([0-9]*\).*"misses":\([0-9]*\).*/\1 \2/p' <<<"$json" | grep . \
      || die "GET /healthz/cache answered '$json', not {\"hits\":N,\"misses\":M}"
  done | awk '{ h += $1; m += $2 } END { if (NR) print h, m }'
}
# check_route SCENARIO PATHS [COOKIE USERNAME]: the first and last path of the
# list answer 200 (and, with a member's cookie, show that member signed in),
# else the run stops: a scenario that cannot be measured is not left out.
check_route() {
  local scenario=$1 list=$2 cookie=${3:-} user=${4:-} path status
  local headers=()
  [[ -n $cookie ]] && headers=(-H "Cookie: $cookie")
  [[ -s $list ]] || die "$scenario: no paths in $list"
  for path in $(head -1 "$list") $(tail -1 "$list"); do
    status=$(curl -s -o "$RUN/check.html" -w '%{http_code}' "${headers[@]}" "$CAFE_URL$path" || true)
    [[ $status == 200 ]] || die "$scenario: GET $path answered $status, not 200; the scenario cannot be measured (see $CAFE_LOG_HINT)"
    if [[ -n $cookie ]]; then
      if ! grep -q 'Sign out' "$RUN/check.html" || ! grep -qF "href=\"/users/$user\"" "$RUN/check.html"; then
        die "$scenario: GET $path with $user's session cookie answered 200 but does not show $user signed in (no 'Sign out' and /users/$user link); the cookie is not taken"
      fi
    fi
  done
}

# log_count PATTERN: lines of the server log(s) matching PATTERN (extended regex).
log_count() { cat "${CAFE_LOGS[@]}" | grep -cE "$1" || true; }
# LOCK_PATTERN: on SQLite, writers that found the database busy; on
# PostgreSQL, its refusals as the server logs them: a statement past
# --db-statement-timeout-secs, a deadlock, a serialization failure, no
# pooled connection in time.
LOCK_PATTERN='database is locked'
[[ $BACKEND == postgres ]] && LOCK_PATTERN='canceling statement|deadlock detected|could not serialize|pool timed out|PoolTimedOut'

# Every scenario's route answers 200 before anything is measured (the page
# view's after the cold pass, which the check would warm).
check_route "list, 2 tags" "$RUN/paths/list.txt"
check_route "/tags" "$RUN/paths/tags.txt"
check_route "search" "$RUN/paths/search.txt"
check_route "history" "$RUN/paths/history.txt"
check_route "Atom feed" "$RUN/paths/atom.txt"
check_route "sign-in form" "$RUN/paths/signin.txt"

# --- cold pass: every sampled page once, on the fresh server ------------------
# Before the static twin is fetched or anything is warmed up: the visitors'
# cache is empty (it lives in memory and an unnamed file, so a new process
# starts without it). The first page was viewed above; the pass takes the rest.
tail -n +2 "$RUN/paths/page.txt" >"$RUN/paths/cold.txt"
[[ -s $RUN/paths/cold.txt ]] || cp "$RUN/paths/page.txt" "$RUN/paths/cold.txt"
# A read of the counters may count itself as a miss (it is a GET without a
# session): measure how many misses one read adds, and take them off below.
read -r _ stats_a < <(cache_counts)
read -r _ stats_b < <(cache_counts)
STATS_MISSES=$(( stats_b - stats_a ))
read -r cold_hits0 cold_misses0 < <(cache_counts)
log "cold pass: $(wc -l <"$RUN/paths/cold.txt") pages once each, $COLD_CONNS connections"
cold_line=$("$CLIENT_BIN" walk --base "$CAFE_URL" --paths "$RUN/paths/cold.txt" --conns "$COLD_CONNS" 2>>"$RUN/client.log" | grep '^RESULT' | head -1 || true)
[[ $cold_line == RESULT* ]] || die "cold pass: bench_client walk gave no result (see $RUN/client.log)"
read -r cold_hits1 cold_misses1 < <(cache_counts)
cold_note="cache hits=$(( cold_hits1 - cold_hits0 )) misses=$(( cold_misses1 - cold_misses0 - STATS_MISSES ))"
record "cold page view (first visit)" "$COLD_CONNS" "$(with_note "$cold_line" "$cold_note")"

# warm_instances WHO PATHS [COOKIE]: with several instances, each keeps its
# own pages, and the passes above went through the front nginx, which gave
# each instance about half of them. Every instance then views every page
# once, straight from its own port, so that the rows below measure kept
# pages on every instance (at 100,000 pages a 5-second row otherwise met
# most pages for the first time on one of them). Not timed.
warm_instances() {
  (( INSTANCES > 1 )) || return 0
  local url
  log "warming each of the $INSTANCES instances: $(wc -l <"$2") pages once each, $1"
  for url in "${INSTANCE_URLS[@]}"; do
    "$CLIENT_BIN" walk --base "$url" --paths "$2" --conns "$COLD_CONNS" ${3:+--cookie "$3"} 2>>"$RUN/client.log" \
      | grep -q '^RESULT' || die "warming $url: bench_client walk gave no result (see $RUN/client.log)"
  done
}
warm_instances "as a visitor" "$RUN/paths/page.txt"

# --- first-time searches: every query once, before any is cached ----------
# The check above asked the first and last query; the pass takes the others,
# each answered from the database (the search cache holds answers by query).
# One half is asked one at a time (a person's wait for an answer), the other
# over COLD_CONNS connections (queries waiting for the cores): distinct
# queries in each, so that neither half is answered from the cache.
sed '1d;$d' "$RUN/paths/search.txt" >"$RUN/paths/search-cold-all.txt"
[[ -s $RUN/paths/search-cold-all.txt ]] || cp "$RUN/paths/search.txt" "$RUN/paths/search-cold-all.txt"
awk 'NR % 2 == 1' "$RUN/paths/search-cold-all.txt" >"$RUN/paths/search-cold-1.txt"
awk 'NR % 2 == 0' "$RUN/paths/search-cold-all.txt" >"$RUN/paths/search-cold.txt"
[[ -s $RUN/paths/search-cold.txt ]] || cp "$RUN/paths/search-cold-1.txt" "$RUN/paths/search-cold.txt"
log "first-time searches: $(wc -l <"$RUN/paths/search-cold-1.txt") queries once each, 1 connection"
search_cold1_line=$("$CLIENT_BIN" walk --base "$CAFE_URL" --paths "$RUN/paths/search-cold-1.txt" --conns 1 2>>"$RUN/client.log" | grep '^RESULT' | head -1 || true)
[[ $search_cold1_line == RESULT* ]] || die "first-time searches: bench_client walk gave no result (see $RUN/client.log)"
record "search, first time (uncached)" 1 "$search_cold1_line"
log "first-time searches: $(wc -l <"$RUN/paths/search-cold.txt") other queries once each, $COLD_CONNS connections"
search_cold_line=$("$CLIENT_BIN" walk --base "$CAFE_URL" --paths "$RUN/paths/search-cold.txt" --conns "$COLD_CONNS" 2>>"$RUN/client.log" | grep '^RESULT' | head -1 || true)
[[ $search_cold_line == RESULT* ]] || die "first-time searches: bench_client walk gave no result (see $RUN/client.log)"
record "search, first time (uncached)" "$COLD_CONNS" "$search_cold_line"

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
# wrk_result SCENARIO URL PATHS CONNS [COOKIE]: wrk's RESULT line (raw output
# kept in $RUN/wrk-*.txt; one retry)
wrk_result() {
  local raw out try
  raw=$RUN/wrk-$(tr -c 'a-zA-Z0-9\n' '-' <<<"$1" | tr -s '-')c$4.txt
  for try in 1 2; do
    out=$(wrk -t"$THREADS" -c"$4" -d"${SECONDS_EACH}s" --timeout 10s -s "$BENCH/paths.lua" "$2" -- "$3" "${5:-}" 2>&1 || echo "wrk exit status $?")
    printf '%s\n' "$out" >>"$raw"
    grep -q '^RESULT' <<<"$out" && break
    log "wrk gave no result for $1 at c=$4 (try $try): $(tail -1 <<<"$out")"
  done
  grep '^RESULT' <<<"$out" | head -1 || true
}
wrk_run() { record "$1" "$4" "$(wrk_result "$@")"; } # wrk_run SCENARIO URL PATHS CONNS [COOKIE]

check_route "page view" "$RUN/paths/page.txt" # (the others were checked before the cold pass)

# A short warm-up of both servers so the first figure is not a cold start.
wrk -t1 -c4 -d2s -s "$BENCH/paths.lua" "$CAFE_URL" -- "$RUN/paths/page.txt" >/dev/null 2>&1 || true
wrk -t1 -c4 -d1s -s "$BENCH/paths.lua" "$STATIC_URL" -- "$RUN/paths/page.txt" >/dev/null 2>&1 || true

locked_before=$(log_count "$LOCK_PATTERN")
for c in $CONNS; do
  wrk_run "static page (nginx)" "$STATIC_URL" "$RUN/paths/page.txt" "$c"
  wrk_run "page view" "$CAFE_URL" "$RUN/paths/page.txt" "$c"
done
for c in $CONNS; do wrk_run "list, 2 tags" "$CAFE_URL" "$RUN/paths/list.txt" "$c"; done
for c in $CONNS; do wrk_run "/tags" "$CAFE_URL" "$RUN/paths/tags.txt" "$c"; done
for c in $CONNS; do wrk_run "search" "$CAFE_URL" "$RUN/paths/search.txt" "$c"; done
for c in $CONNS; do wrk_run "history" "$CAFE_URL" "$RUN/paths/history.txt" "$c"; done
for c in $CONNS; do wrk_run "Atom feed" "$CAFE_URL" "$RUN/paths/atom.txt" "$c"; done

# --- the same reads as signed-in members -------------------------------------
# BENCH_MEMBERS sessions (the last editors of users.txt, not those who save);
# each row takes the next one in turn.
"$CLIENT_BIN" cookie --base "$CAFE_URL" --users "$CORPUS/users.txt" --count "$MEMBERS" >"$RUN/cookies.tsv" 2>>"$RUN/client.log" \
  || { tail -5 "$RUN/client.log" >&2; die "could not sign in $MEMBERS members for the member rows (bench_client cookie)"; }
mapfile -t member_cookies < <(cut -f1 "$RUN/cookies.tsv")
mapfile -t member_names < <(cut -f2 "$RUN/cookies.tsv")
(( ${#member_cookies[@]} == MEMBERS )) || die "bench_client cookie gave ${#member_cookies[@]} cookies, not $MEMBERS"
log "member sessions: ${member_names[*]} (cookies: $(tr ';' '\n' <<<"${member_cookies[0]}" | cut -d= -f1 | tr -d ' ' | paste -sd,))"
member_turn=0
member_run() { # member_run SCENARIO PATHS: every connection count, the next member each time
  local c i
  for c in $CONNS; do
    i=$(( member_turn++ % MEMBERS ))
    wrk_run "$1" "$CAFE_URL" "$2" "$c" "${member_cookies[$i]}"
  done
}
for i in "${!member_cookies[@]}"; do
  for pair in "member page view:page" "member list, 2 tags:list" "member search:search" "member /tags:tags" "member history:history"; do
    check_route "${pair%%:*}" "$RUN/paths/${pair##*:}.txt" "${member_cookies[$i]}" "${member_names[$i]}"
  done
done
# The members' cold pass: every sampled page once as the first member, as
# the cold pass and the static twin's fetch did for visitors, so that the
# member page view rows measure kept pages (members of one role share them)
# at 100,000 pages too, where a few seconds of random views met most pages
# for the first time.
log "members' cold pass: $(wc -l <"$RUN/paths/page.txt") pages once each as ${member_names[0]}, $COLD_CONNS connections"
member_cold_line=$("$CLIENT_BIN" walk --base "$CAFE_URL" --paths "$RUN/paths/page.txt" --conns "$COLD_CONNS" \
  --cookie "${member_cookies[0]}" 2>>"$RUN/client.log" | grep '^RESULT' | head -1 || true)
[[ $member_cold_line == RESULT* ]] || die "members' cold pass: bench_client walk gave no result (see $RUN/client.log)"
record "member cold page view (first visit)" "$COLD_CONNS" "$member_cold_line"
warm_instances "as ${member_names[0]}" "$RUN/paths/page.txt" "${member_cookies[0]}"
member_run "member page view" "$RUN/paths/page.txt"
member_run "member list, 2 tags" "$RUN/paths/list.txt"
member_run "member search" "$RUN/paths/search.txt"
member_run "member /tags" "$RUN/paths/tags.txt"
member_run "member history" "$RUN/paths/history.txt"
hwm_reads=$(vm VmHWM)

# --- page views while saves and sign-in form views go on ----------------------
# bench_client background paces BENCH_MIXED_SAVES saves/s (one editor) and
# BENCH_MIXED_SIGNINS GET /signin per second (no cookies) a second longer than
# wrk runs; the hit rate is the visitors' cache counters' change over wrk's run
# (less the miss the GET /healthz/cache that reads them may add). The sign-in
# form views are looks too (GETs without a session), and misses.
MIXED="page view while $MIXED_SAVES saves/s + $MIXED_SIGNINS /signin/s"
"$CLIENT_BIN" background --base "$CAFE_URL" --users "$CORPUS/users.txt" --slugs "$RUN/sample.txt" \
  --saves-per-sec "$MIXED_SAVES" --signin-per-sec "$MIXED_SIGNINS" --seconds $(( SECONDS_EACH + 1 )) \
  >"$RUN/background.txt" 2>>"$RUN/client.log" &
BG_PID=$!
sleep 0.5
read -r mixed_hits0 mixed_misses0 < <(cache_counts)
mixed_line=$(wrk_result "$MIXED" "$CAFE_URL" "$RUN/paths/page.txt" "$MIXED_CONNS")
read -r mixed_hits1 mixed_misses1 < <(cache_counts)
wait "$BG_PID" || log "bench_client background exited with status $?"
BG_PID=
mixed_hits=$(( mixed_hits1 - mixed_hits0 ))
mixed_misses=$(( mixed_misses1 - mixed_misses0 - STATS_MISSES ))
mixed_hit_pct=$(awk -v h="$mixed_hits" -v m="$mixed_misses" 'BEGIN { if (h + m > 0) printf "%.2f", 100 * h / (h + m); else print "nan" }')
bg_note=$(grep '^RESULT' "$RUN/background.txt" | head -1 | cut -f7)
[[ -n $bg_note ]] || bg_note="no result from bench_client background (see $RUN/client.log)"
record "$MIXED" "$MIXED_CONNS" "$(with_note "$mixed_line" "cache hits ${mixed_hit_pct}% (hits=$mixed_hits misses=$mixed_misses); background: $bg_note")"
locked_saves_before=$(log_count "$LOCK_PATTERN")
# The save row is the median of SAVE_RUNS runs by saves/s, every run's rate
# in its note: the machine's speed moves by a quarter from one minute to the
# next, and a single run of saves (the only row that writes) showed it most.
save_runs=()
for _ in $(seq "$SAVE_RUNS"); do
  save_runs+=("$("$CLIENT_BIN" saves --base "$CAFE_URL" --users "$CORPUS/users.txt" \
    --slugs "$RUN/sample.txt" --conns "$EDITORS" --seconds "$SECONDS_EACH" 2>>"$RUN/client.log" | grep '^RESULT' | head -1)")
done
save_line=$(printf '%s\n' "${save_runs[@]}" | grep '^RESULT' | sort -t$'\t' -k2,2g \
  | awk '{ line[NR] = $0 } END { if (NR) print line[int((NR + 1) / 2)] }')
save_rates=$(printf '%s\n' "${save_runs[@]}" | awk -F'\t' '{ printf "%s%s", (NR > 1 ? " / " : ""), ($1 == "RESULT" ? $2 : "failed") }')
[[ -n $save_line ]] && save_line=$(with_note "$save_line" "median of $SAVE_RUNS runs: $save_rates saves/s")
record "page save" "$EDITORS" "$save_line"
locked_saves=$(( $(log_count "$LOCK_PATTERN") - locked_saves_before ))
hwm_saves=$(vm VmHWM)
for c in $CONNS; do
  record "sign-in" "$c" "$("$CLIENT_BIN" signin --base "$CAFE_URL" --users "$CORPUS/users.txt" \
    --conns "$c" --seconds "$SECONDS_EACH" 2>>"$RUN/client.log" | grep '^RESULT' | head -1)"
done
# --- files: a page with two embedded images, and uploads ----------------------
# A member (the first member session) makes a method page whose text embeds
# two images, then uploads them (multipart, as the upload form sends them,
# with the session's CSRF token); the page is rendered again with both
# <img>. Its views are measured like the page views: as visitors (from the
# visitors' cache once warm) and as a member (made fresh). Then the upload
# throughput: BENCH_UPLOADS uploads (half a 1 MiB PDF, half a 1 MiB PNG of
# noise, which the server decodes and encodes again with a thumbnail), the
# member sessions uploading at once, each one at a time, to pages of the
# sample (one file name per upload). The server was started with
# CAFE_UPLOADS_PER_HOUR high so the hourly throttle does not answer 429; it
# handles 2 uploads at a time (the others wait their turn).
FILES_DIR=$RUN/files
mkdir -p "$FILES_DIR"
python3 - "$FILES_DIR" <<'PY' || die "could not make the files to upload (python3)"
import os, struct, sys, zlib
out = sys.argv[1]
def png(path, side, seed):
    rng = bytearray(os.urandom(side * side * 3))
    raw = b"".join(b"\x00" + bytes(rng[y * side * 3:(y + 1) * side * 3]) for y in range(side))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(bytes(raw), 1)) + chunk(b"IEND", b""))
png(os.path.join(out, "photo.png"), 592, 1)        # ~1 MiB: noise does not compress
png(os.path.join(out, "embed-1.png"), 320, 2)
png(os.path.join(out, "embed-2.png"), 320, 3)
with open(os.path.join(out, "report.pdf"), "wb") as f:
    f.write(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n")
    line = b"% " + b"x" * 97 + b"\n"
    f.write(line * (1048576 // len(line)))
    f.write(b"trailer << /Root 1 0 R >>\n%%EOF\n")
PY
# csrf_of COOKIE PATH: the CSRF token of the form at PATH for that session.
csrf_of() {
  curl -s -H "Cookie: $1" "$CAFE_URL$2" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -1
}
# upload COOKIE TOKEN SLUG FILE NAME: "STATUS SECONDS" of one upload.
upload() {
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Cookie: $1" \
    -F "csrf_token=$2" -F "file=@$4;filename=$5" -F "description=bench upload" "$CAFE_URL/methods/$3/files" || echo "000 0"
}
token=$(csrf_of "${member_cookies[0]}" /methods/new)
[[ -n $token ]] || die "page with two images: no csrf_token on /methods/new for ${member_names[0]}"
# A title of its own each run (a reused corpus keeps the pages of earlier runs).
read -r status location < <(curl -s -o /dev/null -w '%{http_code} %header{location}\n' -H "Cookie: ${member_cookies[0]}" \
  --data-urlencode "csrf_token=$token" --data-urlencode "base_revision=0" --data-urlencode "title=Bench two images $T0" \
  --data-urlencode $'body=## Before and after\n\nThe room before:\n\n![the room before](file:before.png)\n\nand after:\n\n![the room after](file:after.png)\n' \
  --data-urlencode "tags=" --data-urlencode "summary=bench" "$CAFE_URL/methods" || echo "000 -")
[[ $status == 303 && $location == /methods/* ]] || die "page with two images: creating it answered $status (Location '$location'), not 303 to /methods/…"
IMAGES_SLUG=${location#/methods/}
for pair in before.png:embed-1.png after.png:embed-2.png; do
  read -r status _ < <(upload "${member_cookies[0]}" "$token" "$IMAGES_SLUG" "$FILES_DIR/${pair##*:}" "${pair%%:*}")
  [[ $status == 303 ]] || die "page with two images: uploading ${pair%%:*} answered $status, not 303 (see $CAFE_LOG_HINT)"
done
echo "/methods/$IMAGES_SLUG" >"$RUN/paths/images.txt"
check_route "page with two images" "$RUN/paths/images.txt"
(( $(grep -o "src=\"/methods/$IMAGES_SLUG/files/[a-z]*\.png?version=[0-9]*\"" "$RUN/check.html" | sort -u | wc -l) == 2 )) \
  || die "page with two images: /methods/$IMAGES_SLUG does not embed both uploaded images"
check_route "member page with two images" "$RUN/paths/images.txt" "${member_cookies[0]}" "${member_names[0]}"
for c in $CONNS; do wrk_run "page with two images" "$CAFE_URL" "$RUN/paths/images.txt" "$c"; done
member_run "member page with two images" "$RUN/paths/images.txt"

UPLOADS=${BENCH_UPLOADS:-60}
upload_tokens=()
for i in "${!member_cookies[@]}"; do
  upload_tokens+=("$(csrf_of "${member_cookies[$i]}" "/methods/$first_page/files")")
  [[ -n ${upload_tokens[$i]} ]] || die "upload throughput: no csrf_token on /methods/$first_page/files for ${member_names[$i]}"
done
mapfile -t upload_slugs < <(head -"$UPLOADS" "$RUN/sample.txt")
# upload_row SCENARIO FILE: UPLOADS uploads of FILE, the member sessions at
# once (each one after another), each to another sampled page under a name
# of its own; uploads/s counts the 303s (stored), the latency is curl's
# total time for one upload.
upload_row() {
  local scenario=$1 file=$2 kind=${2##*.} i pid started ms line pids=()
  rm -f "$RUN"/uploads-*.txt
  log "$scenario: $UPLOADS uploads, ${#member_cookies[@]} members at once"
  started=$(now_ms)
  for i in "${!member_cookies[@]}"; do
    (
      for (( n = i; n < UPLOADS; n += ${#member_cookies[@]} )); do
        slug=${upload_slugs[n % ${#upload_slugs[@]}]}
        read -r status secs < <(upload "${member_cookies[$i]}" "${upload_tokens[$i]}" "$slug" "$FILES_DIR/$file" "bench-$T0-$n.$kind")
        printf '%s\t%s\t%s\n' "$status" "$secs" "$(stat -c %s "$FILES_DIR/$file")"
      done >"$RUN/uploads-$i.txt"
    ) &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  ms=$(( $(now_ms) - started ))
  cat "$RUN"/uploads-*.txt >"$RUN/uploads-$kind.tsv"
  line=$(sort -t$'\t' -k2,2g "$RUN/uploads-$kind.tsv" | awk -F'\t' -v ms="$ms" '
    { n++; t[n] = $2 * 1000; if ($1 == 303) { ok++; bytes += $3 } else if ($1 == 429) { throttled++ } else { bad++ } }
    END {
      s = ms / 1000
      i50 = int(n * 0.5); if (i50 < n * 0.5) i50++
      i99 = int(n * 0.99); if (i99 < n * 0.99) i99++
      printf "RESULT\t%.2f\t%.1f\t%.1f\t%d\t%d\tuploads/s=%.2f MiB/s=%.2f (%d of %d answered 303, %.1f MiB in %.2f s; 429=%d)\n",
        ok / s, t[i50], t[i99], throttled + bad, n, ok / s, bytes / 1048576 / s, ok + 0, n, bytes / 1048576, s, throttled + 0 }')
  record "$scenario" "${#member_cookies[@]}" "$line"
  # The last upload is on its page's list (stored, not only answered).
  curl -s "$CAFE_URL/methods/${upload_slugs[(UPLOADS - 1) % ${#upload_slugs[@]}]}/files" | grep -qF "bench-$T0-$(( UPLOADS - 1 )).$kind" \
    || die "$scenario: the last upload is not on its page's file list (see $CAFE_LOG_HINT)"
}
upload_row "upload, 1 MiB PDF" report.pdf
upload_row "upload, 1 MiB PNG photo" photo.png
hwm_all=$(vm VmHWM)
locked_all=$(( $(log_count "$LOCK_PATTERN") - locked_before ))
server_errors=$(cat "${CAFE_LOGS[@]}" | grep -ci 'error' || true)
if [[ $BACKEND == postgres ]]; then
  # psql comes with Debian's postgresql (postgresql-client); without it, "?".
  db_mb=$(psql "$DB" -tAqc "SELECT round(pg_database_size(current_database()) / 1048576.0)" 2>/dev/null || echo "?")
else
  db_mb=$(du -m "$DB" | cut -f1)
fi
stop_all

# --- the table -----------------------------------------------------------------
# ratio_of SCENARIO CONNS: req/s over the static page's at CONNS ("" if either is missing)
ratio_of() {
  awk -F'\t' -v s="$1" -v c="$2" '
    $1 == "static page (nginx)" && $2 == c { b = $3 }
    $1 == s && $2 == c { r = $3; seen = 1 }
    END { if (seen && b > 0) printf "%.3f", r / b }' "$ROWS"
}
# target LABEL SCENARIO CONNS MIN: one summary line
target() {
  local r; r=$(ratio_of "$2" "$3")
  if [[ -z $r ]]; then
    echo "- $1: not measured (no '$2' or static row at $3 connections; BENCH_CONNS=\"$CONNS\")."
  else
    echo "- $1: $r× — **$(awk -v r="$r" -v m="$4" 'BEGIN { print (r >= m) ? "met" : "missed" }')**."
  fi
}
mixed_summary() {
  local r met; r=$(ratio_of "$MIXED" "$MIXED_CONNS")
  if [[ -z $r || $mixed_hit_pct == nan ]]; then
    echo "- $MIXED ≥ 0.5× static at $MIXED_CONNS conns and ≥ 90 % cache hits: not measured (ratio '${r:-none}', hits ${mixed_hit_pct}%)."
    return
  fi
  met=$(awk -v r="$r" -v h="$mixed_hit_pct" 'BEGIN { print (r >= 0.5 && h >= 90) ? "met" : "missed" }')
  echo "- $MIXED ≥ 0.5× static at $MIXED_CONNS conns and ≥ 90 % cache hits: $r×, ${mixed_hit_pct} % hits ($mixed_hits hits, $mixed_misses misses) — **$met**."
}
{
  if [[ -n $SUFFIX ]]; then
    echo "# Cafe benchmark: $PAGES pages, $([[ $BACKEND == postgres ]] && echo PostgreSQL || echo SQLite), $INSTANCES instance$( (( INSTANCES > 1 )) && echo s || true)$( (( FRONT )) && echo ' behind nginx' || true)"
  else
    echo "# Cafe benchmark: $PAGES pages"
  fi
  echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src migrations templates 2>/dev/null || echo ' (+ uncommitted src changes)'),"\
       "$(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS, ${SECONDS_EACH} s per row."
  echo "Corpus: $(sed -n 's/^corpus: //p' "$RUN/corpus.txt"); database ${db_mb} MB; generated in ${gen_wall} s wall, ${gen_cpu} s CPU (user+sys)."
  echo "Page views pick from $(wc -l <"$RUN/sample.tsv") pages; nginx serves the same pages fetched once from Cafe."
  if [[ $BACKEND == postgres ]]; then
    echo "Database: PostgreSQL at $(redacted "$DB")$(psql "$DB" -tAqc "SELECT ', ' || split_part(version(), ' ', 2) || ', max_connections ' || current_setting('max_connections') || ', shared_buffers ' || current_setting('shared_buffers') || ', synchronous_commit ' || current_setting('synchronous_commit')" 2>/dev/null || true); pool of ${CAFE_DB_POOL_SIZE:-8} connections per instance."
  fi
  if (( FRONT )); then
    echo "Cafe: $INSTANCES instance$( (( INSTANCES > 1 )) && echo s || true) on ${INSTANCE_URLS[*]#http://}, every request through a second nginx (2 workers, keepalive upstream, round-robin) on 127.0.0.1:$PORT; the instances trust its X-Forwarded-For."
  fi
  echo
  if (( INSTANCES > 1 )); then
    echo "| scenario | conns | req/s | p50 ms | p99 ms | ratio to static | errors | VmHWM after, $INSTANCES processes summed (MiB) | notes |"
  else
    echo "| scenario | conns | req/s | p50 ms | p99 ms | ratio to static | errors | VmHWM after (MiB) | notes |"
  fi
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  awk -F'\t' '
    $1 == "static page (nginx)" { base[$2] = $3 }
    { rows[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        split(rows[i], f, "\t")
        # ratio to the static page view at the same connections (for the
        # saves, whatever BENCH_EDITORS is, at 4; "-" when there is none)
        c = (f[1] == "page save") ? 4 : f[2]
        b = (c in base) ? base[c] : 0
        ratio = (b > 0) ? sprintf("%.3f", f[3] / b) : "-"
        printf "| %s | %s | %" ((f[3] < 10) ? ".2f" : ".0f") " | %s | %s | %s | %s | %s | %s |\n", f[1], f[2], f[3], f[4], f[5], ratio, f[6], f[9], f[8]
      }
    }' "$ROWS"
  echo
  (( INSTANCES > 1 )) && echo "- Start-up: the $INSTANCES instances started at once; /healthz is the last of them to answer, the page view goes through nginx."
  echo "- Start-up to first 200 with $PAGES pages: /healthz ${startup_health_ms} ms, first page view ${startup_page_ms} ms (RSS at rest ${rss_idle} MiB)."
  if (( INSTANCES > 1 )); then
    echo "- Peak RSS of the $INSTANCES cafe processes (VmHWM, summed): ${hwm_reads} MiB after the read scenarios, ${hwm_saves} MiB after saves, ${hwm_all} MiB after sign-in."
  else
  echo "- Peak RSS of the cafe process (VmHWM): ${hwm_reads} MiB after the read scenarios, ${hwm_saves} MiB after saves, ${hwm_all} MiB after sign-in (argon2id takes 19 MiB per hash, two at a time)."
  fi
  if [[ $BACKEND == postgres ]]; then
    echo "- PostgreSQL refusals in the server log$( (( INSTANCES > 1 )) && echo s || true) (statement timeout, deadlock, serialization failure, no pooled connection in time): ${locked_saves} during saves, ${locked_all} in the whole run; log lines mentioning 'error': ${server_errors}."
  else
  echo "- 'database is locked' in the server log: ${locked_saves} during saves, ${locked_all} in the whole run; log lines mentioning 'error': ${server_errors}."
  fi
  echo "- Ratios: Cafe req/s divided by nginx's req/s for the same page sample at the same connection count (saves: at 4)."
  echo "- Cold pass: $(cut -f7 <<<"$cold_line" | sed -n 's/.*paths=\([0-9]*\).*/\1/p') pages viewed once each over $COLD_CONNS connections right after start-up, before the static twin was fetched or anything warmed up: $(cut -f2 <<<"$cold_line") pages/s, p50 $(cut -f3 <<<"$cold_line") ms, p99 $(cut -f4 <<<"$cold_line") ms, $(sed -n 's/.*total_s=\([0-9.]*\).*/\1/p' <<<"$cold_line") s in all; $cold_note."
  echo "- First-time searches (target at 100,000 pages: p99 < 50 ms), distinct queries (words, \"phrases\", prefix*) asked once each after the cold pass, none answered before: $(wc -l <"$RUN/paths/search-cold-1.txt") one at a time, $(cut -f2 <<<"$search_cold1_line") queries/s, p50 $(cut -f3 <<<"$search_cold1_line") ms, p99 $(cut -f4 <<<"$search_cold1_line") ms; $(wc -l <"$RUN/paths/search-cold.txt") others over $COLD_CONNS connections, $(cut -f2 <<<"$search_cold_line") queries/s, p50 $(cut -f3 <<<"$search_cold_line") ms, p99 $(cut -f4 <<<"$search_cold_line") ms."
  (( INSTANCES > 1 )) && echo "- After each cold pass (visitors', members'), every instance viewed every sampled page once more, straight from its own port and not timed, so that the rows after it meet kept pages on both instances."
  echo "- Member rows: signed in as ${member_names[*]} in turn (one session per row), each checked to answer 200 and show the member signed in first."
  echo
  echo "Targets (issue 13):"
  echo
  target "member page view ≥ 0.5× static at 64 conns" "member page view" 64 0.5
  target "member list, 2 tags ≥ 0.25× static at 64 conns" "member list, 2 tags" 64 0.25
  target "member search ≥ 0.25× static at 64 conns" "member search" 64 0.25
  mixed_summary
} >"$RESULTS"
cat "$RESULTS"
log "done; results in ${RESULTS#"$ROOT"/}, logs in ${RUN#"$ROOT"/}"
