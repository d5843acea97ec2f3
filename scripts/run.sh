#!/bin/sh
# make run: starts colibri on its embedded defaults.
set -eu
cd "$(dirname "$0")/.."
exec ./build/colibri --help
