#!/usr/bin/env bash
# Reliability harness (issue 7): bench/reliability/run.sh [SECONDS]
#
# 1. Builds the release server and the load client (one cargo build).
# 2. Mixed load for SECONDS (60 by default) through real HTTP on 127.0.0.1:
#    RELIABILITY_WRITERS (8) members saving edits back to back and
#    RELIABILITY_READERS (32) visitors reading back to back; reports requests,
#    5xx, "database is locked" in the server log, read p50/p95/p99.
# 3. The fault tests through the real binary (debug build, as cargo test
#    builds it): SIGTERM, kill -9 during 200 concurrent edits, full disk
#    (needs root for a tmpfs), read-only database, backup under load; their
#    figure lines are printed. RELIABILITY_NO_FAULTS=1 skips this step.
#
# Everything it starts stops by itself; only 127.0.0.1 is used.
set -euo pipefail

SECONDS_LOAD=${1:-60}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
cd "$ROOT"

echo "== building (release): cafe and the load client"
cargo build --release --quiet --bin cafe --example reliability_load

echo "== mixed load, ${SECONDS_LOAD} s"
"$TARGET/release/examples/reliability_load" --bin "$TARGET/release/cafe" --seconds "$SECONDS_LOAD" \
    --writers "${RELIABILITY_WRITERS:-8}" --readers "${RELIABILITY_READERS:-32}"

if [ "${RELIABILITY_NO_FAULTS:-}" != 1 ]; then
    echo "== faults (cargo test --test faults)"
    cargo test --quiet --test faults -- --nocapture --test-threads 1 2>&1 \
        | grep -oE '(SIGTERM|kill -9|backup under load|full disk|mixed load 5 s|SKIPPED).*|test result.*|panicked.*|FAILED.*'
fi
