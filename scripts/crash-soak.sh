#!/bin/sh
# The long version of the crash test: `colibri serve` trades on colibri-simex
# through the Binance connector and is SIGKILLed at random moments, --rounds
# times; after each restart the store and the exchange must agree exactly
# (no open order left on either side, every exchange order recorded in its
# final state, every trade recorded once). It is the test `make test` runs
# with 5 rounds (tests/server/recovery_binance_test.c). Exit status 0 when
# every round passed.
set -eu

usage() {
    cat <<'USAGE'
usage: scripts/crash-soak.sh [--rounds N] [--seed N] [--asan]
  --rounds N   kill/restart cycles (default 50)
  --seed N     seed of the kill moments (default: the test's)
  --asan       use the sanitizer build (preset asan)
  -h, --help   this help
USAGE
}

rounds=50
seed=""
preset=default
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) [ $# -ge 2 ] || { usage >&2; exit 2; }; rounds=$2; shift 2 ;;
        --seed) [ $# -ge 2 ] || { usage >&2; exit 2; }; seed=$2; shift 2 ;;
        --asan) preset=asan; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "crash-soak: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
done
case "$rounds" in ''|*[!0-9]*) echo "crash-soak: --rounds takes a whole number" >&2; exit 2 ;; esac
case "$seed" in *[!0-9]*) echo "crash-soak: --seed takes a whole number" >&2; exit 2 ;; esac
[ "$rounds" -gt 0 ] || { echo "crash-soak: --rounds must be > 0" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
[ "$preset" = asan ] && build="$root/build-asan"
cd "$root"
[ -f "$build/CMakeCache.txt" ] || cmake --preset "$preset" >/dev/null
cmake --build "$build" --target server_recovery_binance_test colibri >/dev/null
bin="$build/tests/server_recovery_binance_test"
[ -x "$bin" ] || { echo "crash-soak: server_recovery_binance_test not built" >&2; exit 1; }

echo "crash-soak: $rounds rounds ($bin)" >&2
export COLIBRI_CRASH_ROUNDS="$rounds"
[ -z "$seed" ] || export COLIBRI_CRASH_SEED="$seed"
exec "$bin" --verbose=1 --timeout "$((rounds * 120 + 60))"
