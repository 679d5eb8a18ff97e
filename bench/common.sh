# Shared by the bench/*.sh scripts: build, start the reference stack, stop it.
# Not a benchmark itself. Source it from the repository root.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Another build can be measured by naming it (with SKIP_BUILD=1), for example a copy of
# the binary from before a change: GP_BIN=/tmp/goldenpath-before.
STACK_BIN=${STACK_BIN:-$ROOT/target/release/agent-stack}
GP_BIN=${GP_BIN:-$ROOT/target/release/goldenpath}

# require CMD HOW: stop with HOW (the command that installs CMD) unless CMD is on PATH.
require() {
  command -v "$1" >/dev/null || { echo "$1 is missing: $2" >&2; exit 1; }
}

build_release() {
  (cd "$ROOT" && cargo build --release -p agent-stack -p goldenpath)
}

# start_stack PORT [FAULTS]: the release stack binary on 127.0.0.1:PORT with a fresh
# data directory; sets STACK_PID and STACK_DATA. AGENT_THINK_MS, AGENT_TOOL_MS and
# PASSWORD_HASHING pass through from the caller's environment.
start_stack() {
  local port=$1 faults=${2:-}
  STACK_DATA=$(mktemp -d)
  PORT=$port DATA_DIR=$STACK_DATA FAULTS=$faults RUST_LOG=warn \
    PASSWORD_HASHING=${PASSWORD_HASHING:-argon2id} \
    AGENT_THINK_MS=${AGENT_THINK_MS:-50} AGENT_TOOL_MS=${AGENT_TOOL_MS:-20} \
    "$STACK_BIN" >"$STACK_DATA/stack.log" 2>&1 &
  STACK_PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "stack did not become healthy; log:" >&2
  cat "$STACK_DATA/stack.log" >&2
  return 1
}

stop_stack() {
  if [[ -n "${STACK_PID:-}" ]]; then
    kill "$STACK_PID" 2>/dev/null || true
    wait "$STACK_PID" 2>/dev/null || true
    STACK_PID=
  fi
}

# rss_kib PID: resident set size of a process.
rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# cpu_seconds PID: user + system CPU time a process has used so far.
cpu_seconds() {
  awk -v tick="$(getconf CLK_TCK)" '{print ($14 + $15) / tick}' "/proc/$1/stat"
}
