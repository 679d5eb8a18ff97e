#!/usr/bin/env bash
# Benchmark 1c (BENCHMARKS.md): the engine with Prometheus remote write on and off, in
# alternating rounds against the same release stack: `GET /health` as section 1, 50
# users for D seconds; remote write to a real Prometheus (Debian's) every second.
#   bench/remote_write.sh        # D=10 ROUNDS=3 PORT=18088 PROM_PORT=19098
# Prints requests per second and goldenpath's CPU per request for each round, then the
# means and the ratio on/off.
source "$(dirname "$0")/common.sh"
D=${D:-10} ROUNDS=${ROUNDS:-3} PORT=${PORT:-18088} PROM_PORT=${PROM_PORT:-19098}
require prometheus "apt-get install -y --no-install-recommends prometheus"
[[ ${SKIP_BUILD:-} ]] || build_release
start_stack "$PORT"
PROM_DIR=$(mktemp -d)
printf 'global:\n  scrape_interval: 15s\n' >"$PROM_DIR/prometheus.yml"
prometheus --config.file="$PROM_DIR/prometheus.yml" --storage.tsdb.path="$PROM_DIR/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver >"$PROM_DIR/log" 2>&1 &
PROM_PID=$!
trap 'stop_stack; kill $PROM_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null && break; sleep 0.2; done
CONFIG=$PROM_DIR/goldenpath.toml
printf '[load.prometheus]\nremote_write_url = "http://127.0.0.1:%s/api/v1/write"\npush_interval = "1s"\n' "$PROM_PORT" >"$CONFIG"
OUT=$(mktemp -d)
declare -A rps cpu
for round in $(seq "$ROUNDS"); do
  for mode in off on; do
    args=(--config /dev/null)
    [[ $mode == on ]] && args=(--config "$CONFIG")
    t=$( { TIMEFORMAT='%U %S'; time GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT "$GP_BIN" load \
      "$ROOT/bench/features/health.feature" --tags @bench --users 50 --duration "${D}s" --workers 2 \
      "${args[@]}" --run-dir "$OUT/$mode-$round" >"$OUT/$mode-$round.log" 2>&1 ; } 2>&1 | tail -1 | awk '{print $1 + $2}')
    read -r n r rw <<<"$(python3 -c '
import json, sys
l = json.load(open(sys.argv[1]))["load"]
rw = l.get("remote_write") or {}
print(l["iterations"], l["throughput_per_s"], rw.get("pushes_sent", "-"))' "$OUT/$mode-$round/summary.json")"
    us=$(python3 -c "print(f'{$t / $n * 1e6:.2f}')")
    rps[$mode]+="$r " cpu[$mode]+="$us "
    echo "round $round, remote write $mode: $(printf '%.0f' "$r") requests/s, ${us} µs CPU per request, pushes sent: $rw"
  done
done
python3 - "${rps[off]}" "${rps[on]}" "${cpu[off]}" "${cpu[on]}" <<'PY'
import statistics as st, sys
m = [st.mean(map(float, a.split())) for a in sys.argv[1:]]
print(f"mean: off {m[0]:.0f} requests/s {m[2]:.2f} µs/request; on {m[1]:.0f} requests/s {m[3]:.2f} µs/request")
print(f"on/off: throughput {m[1] / m[0]:.3f}, CPU per request {m[3] / m[2]:.3f}")
PY
