#!/usr/bin/env bash
# Issue 2 benchmark: is the reference stack ever the bottleneck of a load run?
# The release stack runs on ONE core (taskset -c 0); wrk loads it from the other.
#   1. GET /health req/s
#   2. complete agent runs/s with AGENT_THINK_MS=0 AGENT_TOOL_MS=0: wrk POSTs
#      /api/agent/v2/execute (202), and a run counts once its agent_run line (written
#      after agent_completed) is in the activity log.
# Usage: bash bench/stack.sh [DURATION_S] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-64}
PORT=18181
command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
cargo build -q --release -p agent-stack
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
PORT=$PORT DATA_DIR=$DATA AGENT_THINK_MS=0 AGENT_TOOL_MS=0 RUST_LOG=warn \
  taskset -c 0 target/release/agent-stack >"$DATA/stack.log" 2>&1 &
PID=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== GET /health, stack on 1 core, wrk -t1 -c$CONNS -d${DURATION}s on the other"
taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/health" | grep -E "Requests/sec|Latency|99%"

curl -fsS -X POST "http://127.0.0.1:$PORT/api/auth/register" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password","display_name":"Bench"}' >/dev/null
TOKEN=$(curl -fsS -X POST "http://127.0.0.1:$PORT/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"bench@example.com","password":"bench-password"}' | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
cat >"$DATA/execute.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"message":"count these five words please"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
LOG=$DATA/activity.jsonl
before=$(grep -c '"agent_run"' "$LOG" 2>/dev/null || true)
echo "== POST /api/agent/v2/execute (think 0 ms, tool 0 ms), same setup"
start=$(date +%s.%N)
taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" -s "$DATA/execute.lua" "http://127.0.0.1:$PORT/api/agent/v2/execute" | grep -E "Requests/sec|Non-2xx"
# Wait until every accepted run has completed (the count stops growing).
last=-1; now=0
while :; do
  now=$(grep -c '"agent_run"' "$LOG" 2>/dev/null || true)
  [[ $now -eq $last ]] && break
  last=$now; end=$(date +%s.%N); sleep 0.5
done
runs=$((now - before))
awk -v n="$runs" -v s="$start" -v e="$end" 'BEGIN { printf "complete agent runs: %d in %.1f s = %.0f runs/s\n", n, e - s, n / (e - s) }'
