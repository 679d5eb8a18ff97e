#!/usr/bin/env bash
# Benchmark 4 (BENCHMARKS.md): a 1 s stall of the backend mid-run (SIGSTOP/SIGCONT of
# the stack process, what `docker pause`/`unpause` does to a container), seen by the
# open model (latency from the scheduled start, as wrk2) and by the closed model.
#   bench/coordinated_omission.sh      # RATE=200 USERS=20 D=20 STALL_AT=10 PORT=18081
source "$(dirname "$0")/common.sh"
RATE=${RATE:-200} USERS=${USERS:-20} D=${D:-20} STALL_AT=${STALL_AT:-10} PORT=${PORT:-18081}
[[ ${SKIP_BUILD:-} ]] || build_release
start_stack "$PORT"
trap stop_stack EXIT
OUT=$(mktemp -d)

stall() {
  sleep "$STALL_AT"
  kill -STOP "$STACK_PID"; sleep 1; kill -CONT "$STACK_PID"
}

run() { # name, model flags...
  local name=$1; shift
  stall &
  local stall_pid=$!
  GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT "$GP_BIN" load "$ROOT/bench/features/health.feature" \
    --tags @bench --duration "${D}s" --run-dir "$OUT/$name" "$@" >"$OUT/$name.log" 2>&1 || true
  wait "$stall_pid"  # a bare `wait` would also wait for the stack (a job of this shell) and hang
  python3 - "$OUT/$name/summary.json" "$name" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))["load"]; s = l["scenario"]
ms = lambda us: f"{us/1000:.1f}ms"
print(f"{sys.argv[2]:>6}: {l['iterations']} requests, p50 {ms(s['p50_us'])} p99 {ms(s['p99_us'])} "
      f"p99.9 {ms(s['p999_us'])} max {ms(s['max_us'])}, dropped {l['dropped']}")
PY
}

echo "GET /health, ${D}s, backend stalled for 1s at ${STALL_AT}s"
run open --rate "${RATE}/s" --max-users 1000
run closed --users "$USERS"
