#!/usr/bin/env bash
# Benchmark 3 (BENCHMARKS.md): the golden path (features/golden_path.feature, @load) at
# 1,000 concurrent users; stack and harness share the machine's cores.
#   bench/journeys.sh          # USERS=1000 RAMP=60 D=180 PORT=18083
# Prints journeys/s, p50/p95/p99 per step, the CPU time of goldenpath vs the stack, and
# both processes' peak RSS.
source "$(dirname "$0")/common.sh"
USERS=${USERS:-1000} RAMP=${RAMP:-60} D=${D:-180} PORT=${PORT:-18083}
[[ ${SKIP_BUILD:-} ]] || build_release
ulimit -n "$(ulimit -Hn)"  # hard limit here is 20000; 65536 would fail under set -e
start_stack "$PORT"
trap stop_stack EXIT
OUT=$(mktemp -d)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
stack0=$(cpu_ticks "$STACK_PID")
GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT "$GP_BIN" load "$ROOT/features/golden_path.feature" \
  --tags @load --users "$USERS" --ramp-up "${RAMP}s" --duration "${D}s" --run-dir "$OUT/journeys" \
  >"$OUT/journeys.log" 2>&1 &
gp=$!
# Sample goldenpath's CPU just before it exits (its /proc entry disappears after).
gp_ticks=0 gp_peak=0
peak_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
while kill -0 "$gp" 2>/dev/null; do
  gp_ticks=$(cpu_ticks "$gp" 2>/dev/null || echo "$gp_ticks")
  gp_peak=$(peak_kib "$gp" 2>/dev/null || echo "$gp_peak")
  sleep 1
done
wait "$gp" || true
stack_ticks=$(( $(cpu_ticks "$STACK_PID") - stack0 ))
echo "peak RSS: goldenpath $((gp_peak / 1024)) MiB, stack $(( $(peak_kib "$STACK_PID") / 1024 )) MiB"
python3 - "$OUT/journeys/summary.json" "$gp_ticks" "$stack_ticks" "$(getconf CLK_TCK)" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))["load"]
gp, st, hz = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ms = lambda us: f"{us/1000:.1f}"
print(f"{l['users']} users, {l['duration_s']:.0f}s: {l['iterations']} journeys ({l['iterations_failed']} failed), "
      f"{l['throughput_per_s']:.1f} journeys/s; lost {l['lost_messages']}, misdelivered {l['misdelivered_events']}")
print(f"CPU: goldenpath {gp/hz:.0f}s, stack {st/hz:.0f}s -> goldenpath share {100*gp/max(gp+st,1):.0f}%")
print(f"{'step':<70} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
for d in [l["scenario"]] + l["steps"] + l["events"]:
    print(f"{d['name'][:70]:<70} {ms(d['p50_us']):>8} {ms(d['p95_us']):>8} {ms(d['p99_us']):>8}")
PY
