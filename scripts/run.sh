#!/bin/sh
# make run: starts colibri on its embedded defaults (synthetic market, paper
# trading), or, in a build without the server, a backtest demo on them.
set -eu
cd "$(dirname "$0")/.."
if ./build/colibri serve --help >/dev/null 2>&1; then
    exec ./build/colibri serve "$@"
fi
mkdir -p var
[ -f var/demo.clbmd ] || ./build/colibri data synth --events 2M --seed 1 --out var/demo.clbmd
./build/colibri backtest --data var/demo.clbmd --strategy avellaneda_market_making --report var/demo-report
echo "open var/demo-report/report.html to see the run"
