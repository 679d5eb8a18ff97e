#!/usr/bin/env bash
# Benchmark 1 (BENCHMARKS.md): GET /health against the release reference stack with
# the same connection count and duration, alternating oha, wrk and goldenpath in one run.
#   bench/engine.sh            # C=50 D=10 ROUNDS=3 PORT=18080
# Prints one line per tool and round: requests per second.
source "$(dirname "$0")/common.sh"
C=${C:-50} D=${D:-10} ROUNDS=${ROUNDS:-3} PORT=${PORT:-18080} WORKERS=${WORKERS:-2}
URL=http://127.0.0.1:$PORT/health
command -v oha >/dev/null || { echo "cargo install oha --locked" >&2; exit 1; }
command -v wrk >/dev/null || { echo "apt-get install -y wrk" >&2; exit 1; }
[[ ${SKIP_BUILD:-} ]] || build_release
start_stack "$PORT"
trap stop_stack EXIT
OUT=$(mktemp -d)

oha_rps() {
  oha --no-tui -c "$C" -z "${D}s" --output-format json "$URL" 2>/dev/null \
    | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["summary"]["requestsPerSec"]))'
}
wrk_rps() {
  wrk -t2 -c"$C" -d"${D}s" "$URL" | awk '/Requests\/sec/ {printf "%d\n", $2}'
}
gp_rps() {
  local dir=$OUT/gp-$1
  GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT "$GP_BIN" load "$ROOT/bench/features/health.feature" \
    --tags @bench --users "$C" --duration "${D}s" --workers "$WORKERS" --run-dir "$dir" >"$OUT/gp-$1.log" 2>&1 || true
  python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["load"]; print(round(l["throughput_per_s"]), "req/s, errors", l["iterations_failed"], end="")' "$dir/summary.json"
}

echo "GET /health, $C connections, ${D}s each, $ROUNDS rounds (stack and tool share $(nproc) cores)"
for r in $(seq "$ROUNDS"); do
  echo "round $r: oha        $(oha_rps) req/s"
  echo "round $r: wrk        $(wrk_rps) req/s"
  echo "round $r: goldenpath $(gp_rps "$r")"
done
