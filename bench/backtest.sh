#!/bin/sh
# The backtester benchmark: a 20-million-event synthetic day replayed through
# avellaneda_market_making, with a bare sequential scan of the same file for
# comparison. Usage: bench/backtest.sh [EVENTS] (default 20000000)
set -eu
cd "$(dirname "$0")/.."
events=${1:-20000000}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./build/colibri data synth --events "$events" --seed 1 --out "$dir/bench.clbmd" >&2
./build/colibri backtest --data "$dir/bench.clbmd" --strategy avellaneda_market_making \
    --json --scan >"$dir/out.json"
python3 - "$dir/out.json" <<'PY' 2>/dev/null || cat "$dir/out.json"
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps({"bench": "backtest_avellaneda", "events": r["events"],
                  "events_per_s": round(r["events_per_s"]), "scan_events_per_s": round(r["scan_events_per_s"]),
                  "ratio": round(r["scan_ratio"], 3), "fills": r["fills"], "reconciled": r["reconciled"]}))
PY
