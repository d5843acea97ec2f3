#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (built by the `fuzz` preset) for a
# while each, growing a working corpus in build-fuzz/corpus/NAME from the
# seeds in tests/fuzz/corpus/NAME. A failing input is kept as
# build-fuzz/artifacts/NAME-crash-*; replay it with
#   build-fuzz/tests/fuzz/fuzz_NAME FILE
# (or with the plain driver of any build: build/tests/fuzz/fuzz_NAME FILE).
# Exits 1 when a target fails.
#
# usage: scripts/fuzz.sh [--seconds N] [--seed S] [NAME...]
#   --seconds N  per target (default 60); --seed S  libFuzzer's seed (default: random)
#   NAME         targets to run (default: every one built)
set -eu
cd "$(dirname "$0")/.."

seconds=60
seed=0
names=""
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names="$names $1"; shift ;;
    esac
done
bin=build-fuzz/tests/fuzz
if [ -z "$names" ]; then
    for f in "$bin"/fuzz_*; do [ -x "$f" ] && names="$names ${f##*/fuzz_}"; done
fi
[ -n "$names" ] || { echo "fuzz.sh: no targets in $bin (run make fuzz)" >&2; exit 2; }

mkdir -p build-fuzz/artifacts
failed=""
for n in $names; do
    [ -x "$bin/fuzz_$n" ] || { echo "fuzz.sh: no target fuzz_$n" >&2; exit 2; }
    mkdir -p "build-fuzz/corpus/$n"
    log="build-fuzz/fuzz-$n.log"
    printf 'fuzz_%-14s %s s ... ' "$n" "$seconds"
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$bin/fuzz_$n" -max_total_time="$seconds" -seed="$seed" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="build-fuzz/artifacts/$n-" \
        "build-fuzz/corpus/$n" "tests/fuzz/corpus/$n" >"$log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
        echo "ok: $runs runs, $cov, corpus $(ls "build-fuzz/corpus/$n" | wc -l) inputs"
    else
        echo "FAILED (log: $log)"
        grep -m 3 -E 'ERROR|fuzz check failed|Test unit written' "$log" | sed 's/^/    /'
        failed="$failed $n"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz.sh: failed:$failed" >&2
    exit 1
fi
