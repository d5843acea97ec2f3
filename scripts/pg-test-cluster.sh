#!/bin/sh
# pg-test-cluster.sh — a private, throw-away PostgreSQL 15 cluster for tests
# and benchmarks.
#
#   scripts/pg-test-cluster.sh start DIR   initdb into DIR/data (a fresh cluster
#                                          every time), start it listening on a
#                                          unix socket only, print the URL
#   scripts/pg-test-cluster.sh stop DIR    stop it and delete its files
#   scripts/pg-test-cluster.sh url DIR     print the URL of a running cluster
#   scripts/pg-test-cluster.sh halt DIR    stop the server, keep its data
#   scripts/pg-test-cluster.sh resume DIR  start a halted server again
#
# The URL (postgresql:///postgres?host=SOCKDIR&user=postgres) is also written
# to DIR/url. No TCP port is opened; authentication is "trust" on the socket,
# whose directory is only reachable by the cluster's owner and root.
#
# initdb refuses to run as root: as root the cluster runs as the `postgres`
# user (runuser), otherwise as the calling user. PG_BINDIR overrides the
# server binaries' directory (default: /usr/lib/postgresql/15/bin, or the
# directory of `pg_ctl` on PATH). Takes about two seconds.
set -eu

usage() {
    echo "usage: $0 start|stop|url|halt|resume DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2

bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ ! -x "$bindir/pg_ctl" ]; then
    if command -v pg_ctl >/dev/null 2>&1; then
        bindir=$(dirname "$(command -v pg_ctl)")
    else
        echo "pg-test-cluster: no PostgreSQL server binaries (install 'postgresql')" >&2
        exit 1
    fi
fi

if [ "$(id -u)" -eq 0 ]; then
    owner=postgres
    as_owner() { runuser -u postgres -- "$@"; }
else
    owner=$(id -un)
    as_owner() { "$@"; }
fi

# The cluster's files live in DIR unless the owner cannot reach DIR (root's
# private directories): then in a temporary directory named in DIR/where.
# The socket path must stay under the 107-byte limit of sun_path.
prepare_dirs() {
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    base="$dir/cluster"
    if [ "$(id -u)" -eq 0 ]; then
        install -d -o postgres -m 0700 "$base"
        if ! runuser -u postgres -- test -w "$base"; then
            rm -rf "$base"
            base=$(mktemp -d /tmp/clb-pg.XXXXXX)
            chown postgres "$base"
            chmod 0700 "$base"
        fi
    else
        install -d -m 0700 "$base"
    fi
    if [ ${#base} -gt 80 ]; then
        [ "$base" = "$dir/cluster" ] && rm -rf "$base"
        base=$(mktemp -d /tmp/clb-pg.XXXXXX)
        [ "$(id -u)" -eq 0 ] && chown postgres "$base"
        chmod 0700 "$base"
    fi
    echo "$base" >"$dir/where"
}

where() {
    if [ -f "$dir/where" ]; then cat "$dir/where"; else echo "$dir/cluster"; fi
}

start_server() {
    b=$1
    if ! as_owner "$bindir/pg_ctl" -D "$b/data" -l "$b/server.log" -w -t 30 \
        -o "-c listen_addresses='' -k '$b/sock' -c fsync=off -c full_page_writes=off" \
        start >/dev/null 2>&1; then
        cat "$b/server.log" >&2 2>/dev/null || true
        echo "pg-test-cluster: the server did not start" >&2
        exit 1
    fi
}

stop_cluster() {
    b=$(where)
    if [ -f "$b/data/postmaster.pid" ]; then
        as_owner "$bindir/pg_ctl" -D "$b/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$b"
    rm -f "$dir/where" "$dir/url" "$dir/server.log"
}

case "$cmd" in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    stop_cluster
    prepare_dirs
    mkdir -p "$base/data" "$base/sock"
    [ "$(id -u)" -eq 0 ] && chown postgres "$base/data" "$base/sock"
    chmod 0700 "$base/data" "$base/sock"
    if ! as_owner "$bindir/initdb" -D "$base/data" -A trust -U postgres --no-sync \
        -E UTF8 --locale=C >"$base/initdb.log" 2>&1; then
        cat "$base/initdb.log" >&2
        echo "pg-test-cluster: initdb failed (as $owner)" >&2
        exit 1
    fi
    start_server "$base"
    # root reaches the socket whatever its mode; a normal user owns it.
    url="postgresql:///postgres?host=$base/sock&user=postgres"
    echo "$url" >"$dir/url"
    echo "$url"
    ;;
stop)
    [ -d "$dir" ] || exit 0
    dir=$(cd "$dir" && pwd)
    stop_cluster
    ;;
halt)
    dir=$(cd "$dir" && pwd)
    b=$(where)
    as_owner "$bindir/pg_ctl" -D "$b/data" -m fast -w stop >/dev/null
    ;;
resume)
    dir=$(cd "$dir" && pwd)
    start_server "$(where)"
    ;;
url)
    [ -f "$dir/url" ] || { echo "pg-test-cluster: no cluster in $dir" >&2; exit 1; }
    cat "$dir/url"
    ;;
*)
    usage
    ;;
esac
