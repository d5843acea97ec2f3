#!/bin/sh
# Installs the JavaScript test tools pinned in package-lock.json (npm ci),
# and Node.js itself from Debian when it is missing. Quiet and quick when
# everything is already in place.
set -eu
cd "$(dirname "$0")/.."
[ -f package-lock.json ] || exit 0
if ! command -v npm >/dev/null 2>&1; then
    echo "colibri: installing Debian packages: nodejs npm" >&2
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
# node_modules/.package-lock.json is written by npm; newer than the lock file
# means the tree is current.
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
fi
echo "colibri: npm ci (test tools)" >&2
npm ci --no-audit --no-fund --loglevel=error >/dev/null
