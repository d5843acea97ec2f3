#!/bin/sh
# Installs the Debian packages colibri needs to build, test and run.
# Idempotent: prints nothing and changes nothing when all are present.
# Uses sudo when not root. Usage: scripts/install-deps.sh [--with-tests]
set -eu

pkgs="gcc clang libclang-rt-14-dev make cmake ninja-build pkg-config libc6-dev
libsqlite3-dev libpq-dev postgresql
libcriterion-dev libjansson-dev libssl-dev libwebsockets-dev libuv1-dev libmicrohttpd-dev libcurl4-openssl-dev libsecp256k1-dev curl openssl prometheus wrk nginx-light chromium"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "colibri: installing Debian packages:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
