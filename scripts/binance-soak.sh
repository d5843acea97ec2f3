#!/bin/sh
# The long soak of the Binance connector: pure market making trades on
# colibri-simex (in-process) with every fault on for --minutes minutes, then
# the connector must agree exactly with the simulator (orders known both
# ways, each trade filled exactly once, balances equal). It is the same test
# as the short one in `make test` (tests/connectors/binance_soak_test.c),
# run longer. Exit status: 0 when every check passed.
set -eu

usage() {
    cat <<'USAGE'
usage: scripts/binance-soak.sh [--minutes N] [--seed N] [--build-dir DIR] [--asan]
  --minutes N      how long the strategy trades (default 10)
  --seed N         the simulator's seed (default 11)
  --build-dir DIR  build tree holding connectors_binance_soak_test (default build,
                   or build-asan with --asan); it is built first
  --asan           use the sanitizer build (preset asan)
  -h, --help       this help
USAGE
}

minutes=10
seed=11
build=""
preset=default
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) [ $# -ge 2 ] || { usage >&2; exit 2; }; minutes=$2; shift 2 ;;
        --seed) [ $# -ge 2 ] || { usage >&2; exit 2; }; seed=$2; shift 2 ;;
        --build-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; build=$2; shift 2 ;;
        --asan) preset=asan; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "binance-soak: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$minutes" in ''|*[!0-9]*) echo "binance-soak: --minutes takes a whole number" >&2; exit 2 ;; esac
case "$seed" in ''|*[!0-9]*) echo "binance-soak: --seed takes a whole number" >&2; exit 2 ;; esac
[ "$minutes" -gt 0 ] || { echo "binance-soak: --minutes must be > 0" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$build" ]; then
    if [ "$preset" = asan ]; then build="$root/build-asan"; else build="$root/build"; fi
fi
cd "$root"
if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake --preset "$preset" >/dev/null
fi
cmake --build "$build" --target connectors_binance_soak_test >/dev/null
bin="$build/tests/connectors_binance_soak_test"
[ -x "$bin" ] || bin=$(find "$build" -name connectors_binance_soak_test -type f | head -n 1)
[ -x "$bin" ] || { echo "binance-soak: connectors_binance_soak_test not built" >&2; exit 1; }

secs=$((minutes * 60))
echo "binance-soak: $minutes min, seed $seed ($bin)" >&2
COLIBRI_SOAK_SECONDS=$secs COLIBRI_SOAK_SEED=$seed exec "$bin" --verbose=1 --timeout "$((secs + 600))"
