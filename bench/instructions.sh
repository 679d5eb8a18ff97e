#!/usr/bin/env bash
# Benchmark 1b (BENCHMARKS.md): user-space instructions per request, goldenpath against
# oha, for the same GET /health load as bench/engine.sh. Counted by valgrind's
# callgrind, which counts instructions rather than time: the figure repeats on a busy
# shared host where requests per second move by ±15 % from round to round.
#   bench/instructions.sh      # N=5000 C=50 PORT=18085 WORKERS=2
# Each tool runs twice under callgrind, for N and for 2N requests; the difference over N
# is the cost per request, without start-up and shutdown. Counted: every thread but the
# main one (oha's collects and prints the results; goldenpath's merges and writes its
# reports), and not goldenpath's once-a-second interval roll, which callgrind's
# slowdown (about 50×) would otherwise charge to requests 50 times over.
source "$(dirname "$0")/common.sh"
N=${N:-5000} C=${C:-50} PORT=${PORT:-18085} WORKERS=${WORKERS:-2}
URL=http://127.0.0.1:$PORT/health
require valgrind "apt-get install -y valgrind"
require oha "cargo install oha --locked"
[[ ${SKIP_BUILD:-} ]] || build_release
start_stack "$PORT"
trap stop_stack EXIT
OUT=$(mktemp -d)

# counted FILE: the instructions a callgrind profile counts, as described above.
counted() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" | awk '
    /PROGRAM TOTALS/ { gsub(",", "", $1); total = $1 }
    /\?\?\?:(goldenpath|oha)::main / { gsub(",", "", $1); main = $1 }
    /\?\?\?:goldenpath::load::metrics::Recorder::roll / { gsub(",", "", $1); roll = $1 }
    END { print total - main - roll }'
}

# per_request TOOL: instructions per request, from runs of N and 2N requests.
per_request() {
  local tool=$1 n
  for n in "$N" $((2 * N)); do
    local profile=$OUT/$tool.$n.callgrind
    case $tool in
      oha)
        valgrind --tool=callgrind --callgrind-out-file="$profile" \
          oha --no-tui -c "$C" -n "$n" --output-format json "$URL" >"$OUT/$tool.$n.out" 2>"$OUT/$tool.$n.log"
        ;;
      goldenpath)
        GOLDENPATH_TARGET__BASE_URL=http://127.0.0.1:$PORT valgrind --tool=callgrind \
          --callgrind-out-file="$profile" "$GP_BIN" load "$ROOT/bench/features/health.feature" \
          --tags @bench --users "$C" --iterations "$n" --workers "$WORKERS" \
          --run-dir "$OUT/gp-$n" >"$OUT/$tool.$n.out" 2>"$OUT/$tool.$n.log"
        local failed
        failed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["load"]["iterations_failed"])' "$OUT/gp-$n/summary.json")
        [[ $failed == 0 ]] || echo "goldenpath: $failed iterations failed (see $OUT/$tool.$n.out)" >&2
        ;;
    esac
  done
  python3 -c 'import sys; print(round((int(sys.argv[2]) - int(sys.argv[1])) / int(sys.argv[3])))' \
    "$(counted "$OUT/$tool.$N.callgrind")" "$(counted "$OUT/$tool.$((2 * N)).callgrind")" "$N"
}

echo "GET /health, $C connections, $N and $((2 * N)) requests under callgrind"
oha_ir=$(per_request oha)
gp_ir=$(per_request goldenpath)
echo "oha        $oha_ir instructions per request"
echo "goldenpath $gp_ir instructions per request"
python3 -c 'import sys; print(f"goldenpath / oha = {int(sys.argv[1]) / int(sys.argv[2]):.2f} (instructions per request; lower is better)")' "$gp_ir" "$oha_ir"
