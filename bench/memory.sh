#!/usr/bin/env bash
# Benchmark 2 (BENCHMARKS.md): goldenpath's resident memory while N virtual users each
# hold an open agent-events socket (bench/features/idle.feature), per user.
#   bench/memory.sh            # COUNTS="1000 5000 10000" RATE=100 PORT=18082
# The stack hashes passwords with PASSWORD_HASHING=fast-insecure here (unless told
# otherwise): at Argon2id's default cost it signs up only ~15 users/s on 2 cores.
# The open model hands arrivals to the longest-idle user, so at RATE/s every user has
# registered, logged in and opened its socket after N/RATE seconds; RSS is sampled then.
source "$(dirname "$0")/common.sh"
COUNTS=${COUNTS:-"1000 5000 10000"} RATE=${RATE:-100} PORT=${PORT:-18082}
[[ ${SKIP_BUILD:-} ]] || build_release
ulimit -n "$(ulimit -Hn)"  # hard limit here is 20000; 65536 would fail under set -e
PASSWORD_HASHING=${PASSWORD_HASHING:-fast-insecure} start_stack "$PORT"
trap stop_stack EXIT
OUT=$(mktemp -d)
for n in $COUNTS; do
  d=$(( n / RATE + 15 ))
  GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT "$GP_BIN" load "$ROOT/bench/features/idle.feature" \
    --tags @bench-idle --rate "${RATE}/s" --max-users "$n" --duration "${d}s" --run-dir "$OUT/idle-$n" \
    >"$OUT/idle-$n.log" 2>&1 &
  gp=$!
  sleep $(( n / RATE + 10 ))
  rss=$(rss_kib "$gp")
  sockets=$(ls -l "/proc/$gp/fd" 2>/dev/null | grep -c socket || true)
  wait "$gp" || true
  outcome=$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["load"]; print(l["iterations"], "iterations,", l["iterations_failed"], "failed,", l["dropped"], "dropped")' "$OUT/idle-$n/summary.json" 2>/dev/null || echo "no summary")
  echo "$n users: goldenpath RSS ${rss} KiB, ${sockets} sockets open, $(( rss / n )) KiB per user (incl. baseline); $outcome"
done
