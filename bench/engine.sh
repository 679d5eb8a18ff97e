#!/usr/bin/env bash
# Benchmark 1 (BENCHMARKS.md): GET /health against the release reference stack with
# the same connection count and duration, alternating oha, wrk and goldenpath in one run.
#   bench/engine.sh            # C=50 D=10 ROUNDS=3 PORT=18080 WORKERS=2
# Prints one line per tool and round: requests per second, then the CPU each request
# cost the tool and the stack (user + system time over requests; the tool's figure
# includes its start and, for goldenpath, writing its reports). Ends with the means
# and the ratios the targets are stated in.
source "$(dirname "$0")/common.sh"
C=${C:-50} D=${D:-10} ROUNDS=${ROUNDS:-3} PORT=${PORT:-18080} WORKERS=${WORKERS:-2}
URL=http://127.0.0.1:$PORT/health
require oha "cargo install oha --locked"
require wrk "apt-get install -y wrk"
[[ ${SKIP_BUILD:-} ]] || build_release
start_stack "$PORT"
trap stop_stack EXIT
OUT=$(mktemp -d)

# measure NAME CMD...: runs CMD with its output in $OUT/NAME.out; writes the CPU
# seconds (user + system) it and its children used to $OUT/NAME.cpu and the stack's
# CPU seconds over the same span to $OUT/NAME.stack.
measure() {
  local name=$1
  shift
  local before
  before=$(cpu_seconds "$STACK_PID")
  python3 - "$OUT/$name" "$@" <<'PY'
import resource, subprocess, sys
out = sys.argv[1]
subprocess.run(sys.argv[2:], stdout=open(out + ".out", "w"), stderr=subprocess.STDOUT)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
open(out + ".cpu", "w").write(f"{r.ru_utime + r.ru_stime}\n")
PY
  python3 -c 'import sys; print(float(sys.argv[1]) - float(sys.argv[2]))' \
    "$(cpu_seconds "$STACK_PID")" "$before" >"$OUT/$name.stack"
}

# report TOOL NAME REQUESTS: one line, and the figures appended to $OUT/all.
report() {
  local tool=$1 name=$2 requests=$3
  python3 - "$tool" "$requests" "$D" "$(cat "$OUT/$name.cpu")" "$(cat "$OUT/$name.stack")" <<'PY' | tee -a "$OUT/all"
import sys
tool, n, d, cpu, stack = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
print(f"{tool} {round(n / d)} {cpu / n * 1e6:.1f} {stack / n * 1e6:.1f}")
PY
}

echo "GET /health, $C connections, ${D}s each, $ROUNDS rounds (stack and tool share $(nproc) cores)"
echo "tool req/s client-µs-CPU-per-request stack-µs-CPU-per-request"
run_oha() {
  measure "oha-$1" oha --no-tui -c "$C" -z "${D}s" --output-format json "$URL"
  report oha "oha-$1" "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(round(s["requestsPerSec"] * s["total"]))' "$OUT/oha-$1.out")"
}
run_wrk() {
  measure "wrk-$1" wrk -t2 -c"$C" -d"${D}s" "$URL"
  report wrk "wrk-$1" "$(awk '/requests in/ {print $1}' "$OUT/wrk-$1.out")"
}
run_goldenpath() {
  GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT measure "gp-$1" "$GP_BIN" load \
    "$ROOT/bench/features/health.feature" --tags @bench --users "$C" --duration "${D}s" \
    --workers "$WORKERS" --run-dir "$OUT/gp-$1"
  local n failed
  read -r n failed < <(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["load"]; print(l["iterations"], l["iterations_failed"])' "$OUT/gp-$1/summary.json")
  report goldenpath "gp-$1" "$n"
  [[ $failed == 0 ]] || echo "goldenpath: $failed iterations failed (see $OUT/gp-$1.out)"
}

# The order rotates each round, so that no tool always follows the same one.
TOOLS=(oha wrk goldenpath)
for r in $(seq "$ROUNDS"); do
  echo "round $r"
  for i in 0 1 2; do
    "run_${TOOLS[(r - 1 + i) % 3]}" "$r"
  done
done

python3 - "$OUT/all" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    tool, rps, cpu, stack = line.split()
    rows.setdefault(tool, []).append((float(rps), float(cpu), float(stack)))
mean = {t: [statistics.mean(col) for col in zip(*v)] for t, v in rows.items()}
print("mean")
for t, (rps, cpu, stack) in mean.items():
    print(f"{t} {rps:.0f} {cpu:.1f} {stack:.1f}")
gp = mean["goldenpath"][0]
print(f"goldenpath / oha = {gp / mean['oha'][0]:.2f} (target >= 1.0), "
      f"goldenpath / wrk = {gp / mean['wrk'][0]:.2f} (target >= 0.8)")
# The same ratios round by round: the host's speed drifts, a round's tools share it.
for peer in ("oha", "wrk"):
    ratios = sorted(g[0] / p[0] for g, p in zip(rows["goldenpath"], rows[peer]))
    print(f"per round, goldenpath / {peer}: median {statistics.median(ratios):.2f}, "
          f"range {ratios[0]:.2f}-{ratios[-1]:.2f}, goldenpath ahead in "
          f"{sum(r >= 1 for r in ratios)} of {len(ratios)}")
PY
