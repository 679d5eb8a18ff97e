#!/usr/bin/env bash
# Benchmark 6 (BENCHMARKS.md): a load run split into shards (`load --shard I/N`).
#   bench/shards.sh overhead   # USERS=200 ITER=3000 ROUNDS=3 PORT=18086
#   bench/shards.sh idle       # USERS=10000 SHARDS=4 RATE=400 PORT=18087
# overhead: the golden path at the same total users as 1 process, 2 shards and 4
# shards, in alternating rounds, the machine's cores dealt among them as worker threads
# (as shards on machines of their own would have); prints the CPU (user + system) of
# all goldenpath processes per journey, each against one process's.
# idle: USERS connected users (bench/features/idle.feature) as SHARDS processes against
# one stack; prints each shard's RSS once every user holds its socket, per user, and
# the failed iterations.
# The stack hashes passwords with PASSWORD_HASHING=fast-insecure (as bench/memory.sh).
source "$(dirname "$0")/common.sh"
MODE=${1:-overhead}
[[ ${SKIP_BUILD:-} ]] || build_release
ulimit -n "$(ulimit -Hn)"  # hard limit here is 20000; 65536 would fail under set -e
OUT=$(mktemp -d)
# The machine's cores, dealt to the shards: the same worker threads in all (at least 1).
CORES=${CORES:-$(nproc)}

# stamp SECONDS_AHEAD: a run id whose UTC stamp is the shards' shared start.
stamp() { date -u -d "+$1 sec" +%Y%m%dT%H%M%SZ; }

overhead() {
  local users=${USERS:-200} iter=${ITER:-3000} rounds=${ROUNDS:-3} port=${PORT:-18086}
  PASSWORD_HASHING=${PASSWORD_HASHING:-fast-insecure} start_stack "$port"
  trap stop_stack EXIT
  declare -A per_journey
  for round in $(seq "$rounds"); do
    for n in 1 2 4; do
      local run; run="$(stamp 2)-r$round-n$n"
      local t0; t0=$(date +%s%N)
      # bash's `time` of a subshell counts the CPU of every shard it waited for.
      local cpu
      cpu=$( { TIMEFORMAT='%U %S'; time (
        for i in $(seq 0 $((n - 1))); do
          GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$port "$GP_BIN" load \
            "$ROOT/features/golden_path.feature" --tags @load --config /dev/null \
            --users "$users" --iterations "$iter" --shard "$i/$n" --run-id "$run" \
            --workers "$(( CORES / n > 0 ? CORES / n : 1 ))" \
            --reports "$OUT" >"$OUT/$run-$i.log" 2>&1 &
        done
        wait
      ) ; } 2>&1 | tail -1 | awk '{print $1 + $2}')
      local wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
      local done_; done_=$(python3 -c '
import json, sys, glob
it = failed = 0
for f in glob.glob(sys.argv[1] + "/shard-*/summary.json") + glob.glob(sys.argv[1] + "/summary.json"):
    l = json.load(open(f))["load"]; it += l["iterations"]; failed += l["iterations_failed"]
print(it, failed)' "$OUT/$run")
      read -r journeys failed <<<"$done_"
      local us; us=$(python3 -c "print(f'{$cpu / max($journeys, 1) * 1e6:.0f}')")
      per_journey[$n]+="$us "
      echo "round $round, $n shard(s): $journeys journeys ($failed failed), CPU ${cpu}s, ${us} µs/journey, wall ${wall_ms} ms"
    done
  done
  python3 - "${per_journey[1]}" "${per_journey[2]}" "${per_journey[4]}" <<'PY'
import statistics, sys
med = [statistics.median(map(float, a.split())) for a in sys.argv[1:]]
for n, m in zip([1, 2, 4], med):
    print(f"{n} shard(s): median {m:.0f} µs of CPU per journey, {m / med[0]:.3f} x one process")
PY
}

idle() {
  local users=${USERS:-10000} shards=${SHARDS:-4} rate=${RATE:-400} port=${PORT:-18087}
  PASSWORD_HASHING=${PASSWORD_HASHING:-fast-insecure} start_stack "$port"
  trap stop_stack EXIT
  local connect=$(( users / rate )) run; run="$(stamp 3)-idle"
  local d=$(( connect + 15 ))
  local pids=()
  for i in $(seq 0 $((shards - 1))); do
    GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$port "$GP_BIN" load \
      "$ROOT/bench/features/idle.feature" --tags @bench-idle --config /dev/null \
      --rate "${rate}/s" --max-users "$users" --duration "${d}s" \
      --shard "$i/$shards" --run-id "$run" --reports "$OUT" >"$OUT/idle-$i.log" 2>&1 &
    pids+=($!)
  done
  sleep $(( connect + 3 + 10 ))
  local total=0
  for i in "${!pids[@]}"; do
    local rss; rss=$(rss_kib "${pids[$i]}")
    local sockets; sockets=$(ls -l "/proc/${pids[$i]}/fd" 2>/dev/null | grep -c socket || true)
    total=$(( total + rss ))
    echo "shard $i: RSS ${rss} KiB, ${sockets} sockets open, $(( rss / (users / shards) )) KiB per user (incl. baseline)"
  done
  echo "stack: RSS $(rss_kib "$STACK_PID") KiB, $(ls "/proc/$STACK_PID/fd" | wc -l) descriptors"
  for p in "${pids[@]}"; do wait "$p" || true; done
  "$GP_BIN" merge "$OUT/$run" --run-dir "$OUT/$run/merged" >"$OUT/merge.log" 2>&1 || true
  python3 - "$OUT/$run/merged/summary.json" "$total" <<'PY'
import json, sys
l = json.load(open(sys.argv[1]))["load"]
print(f"{l['users']} users in {len(l['shards'])} shards: {l['iterations']} iterations, "
      f"{l['iterations_failed']} failed, {l['dropped']} dropped")
print(f"goldenpath RSS in all: {sys.argv[2]} KiB, {int(sys.argv[2]) // l['users']} KiB per user (incl. 4 baselines)")
PY
}

case "$MODE" in
  overhead) overhead ;;
  idle) idle ;;
  *) echo "usage: bench/shards.sh overhead|idle" >&2; exit 2 ;;
esac
