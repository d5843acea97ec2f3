#!/bin/sh
# The REST API throughput benchmark: wrk over HTTPS keep-alive against
# `colibri serve`'s GET /api/v1/status (bearer token), and, as the yardstick,
# against nginx serving a small static file with the same self-signed
# certificate. Both run on ephemeral 127.0.0.1 ports from a temporary
# directory that the exit trap removes, with both servers stopped.
# Prints one JSON line per figure:
#   {"bench":"http_status_rps","value":X}
#   {"bench":"nginx_static_rps","value":Y}
#   {"bench":"http_ratio","value":X/Y,"target":0.5}
# Needs the built ./build/colibri, wrk, nginx (nginx-light), curl and python3.
# Usage: bench/http_bench.sh [DURATION] (wrk -d, default 10s)
set -eu
cd "$(dirname "$0")/.."
duration=${1:-10s}
for tool in wrk nginx curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
        echo "http_bench: $tool is missing (scripts/install-deps.sh installs it)" >&2
        exit 1
    fi
done
nginx_bin=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
[ -x ./build/colibri ] || { echo "http_bench: ./build/colibri is missing: make build" >&2; exit 1; }

dir=$(mktemp -d)
colibri_pid=""
nginx_pid=""
wrk_pid=""
cleanup()
{
    for p in $wrk_pid $nginx_pid $colibri_pid; do
        kill -TERM "$p" 2>/dev/null || true
    done
    # poll rather than `wait`: after a signal the shell may not wait
    for p in $wrk_pid $nginx_pid $colibri_pid; do
        n=0
        while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do
            n=$((n + 1))
            sleep 0.05
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# colibri serve on ephemeral ports; wait for its ready line.
./build/colibri serve --data-dir "$dir/data" --listen 127.0.0.1:0 --ws-listen 127.0.0.1:0 \
    >"$dir/colibri.out" 2>"$dir/colibri.err" &
colibri_pid=$!
i=0
until grep -q '^colibri serve ready' "$dir/colibri.out" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 150 ] || ! kill -0 "$colibri_pid" 2>/dev/null; then
        echo "http_bench: colibri serve did not start:" >&2
        cat "$dir/colibri.err" >&2
        exit 1
    fi
    sleep 0.1
done
colibri_port=$(sed -n 's|^REST https://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$dir/colibri.out")
if [ -z "$colibri_port" ]; then
    echo "http_bench: no REST line" >&2
    cat "$dir/colibri.out" >&2
    exit 1
fi
token=$(tr -d '\r\n' <"$dir/data/admin.token")

# nginx: one worker, the same certificate and key, everything under $dir.
nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
mkdir -p "$dir/nginx/html" "$dir/nginx/tmp"
# a small static body, about the size of a /api/v1/status answer
status_len=$(curl -sS --cacert "$dir/data/tls/cert.pem" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$colibri_port/api/v1/status" | wc -c)
python3 -c 'import sys; sys.stdout.write("x" * max(1, int(sys.argv[1]) - 1) + "\n")' \
    "$status_len" >"$dir/nginx/html/static.txt"
user_line=""
[ "$(id -u)" -eq 0 ] && user_line="user $(id -un) $(id -gn);"
cat >"$dir/nginx/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log $dir/nginx/access.log;
    client_body_temp_path $dir/nginx/tmp/body;
    proxy_temp_path $dir/nginx/tmp/proxy;
    fastcgi_temp_path $dir/nginx/tmp/fastcgi;
    uwsgi_temp_path $dir/nginx/tmp/uwsgi;
    scgi_temp_path $dir/nginx/tmp/scgi;
    default_type text/plain;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$nginx_port ssl;
        ssl_certificate $dir/data/tls/cert.pem;
        ssl_certificate_key $dir/data/tls/key.pem;
        root $dir/nginx/html;
    }
}
EOF
"$nginx_bin" -p "$dir/nginx" -c "$dir/nginx/nginx.conf" -g 'daemon off;' \
    >"$dir/nginx/stdout.log" 2>&1 &
nginx_pid=$!
i=0
until curl -sf --cacert "$dir/data/tls/cert.pem" -o /dev/null \
    "https://127.0.0.1:$nginx_port/static.txt" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 "$nginx_pid" 2>/dev/null; then
        echo "http_bench: nginx did not start:" >&2
        cat "$dir/nginx/stdout.log" "$dir/nginx/error.log" >&2 2>/dev/null || true
        exit 1
    fi
    sleep 0.1
done

# Runs wrk in the background (so a signal stops it too); sets rps to its
# Requests/sec; fails on non-2xx answers or socket errors.
run_wrk()
{
    name=$1
    shift
    wrk -t2 -c32 -d"$duration" "$@" >"$dir/$name.wrk" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || {
        echo "http_bench: wrk failed against $name:" >&2
        cat "$dir/$name.wrk" >&2
        exit 1
    }
    if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$dir/$name.wrk"; then
        echo "http_bench: errors against $name:" >&2
        cat "$dir/$name.wrk" >&2
        exit 1
    fi
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$dir/$name.wrk")
    if [ -z "$rps" ]; then
        echo "http_bench: no Requests/sec from $name" >&2
        cat "$dir/$name.wrk" >&2
        exit 1
    fi
    wrk_pid=""
    sed 's/^/  /' "$dir/$name.wrk" >&2
}

echo "http_bench: colibri GET /api/v1/status ($status_len bytes), wrk -t2 -c32 -d$duration" >&2
run_wrk colibri -H "Authorization: Bearer $token" "https://127.0.0.1:$colibri_port/api/v1/status"
x=$rps
echo "http_bench: nginx static file, wrk -t2 -c32 -d$duration" >&2
run_wrk nginx "https://127.0.0.1:$nginx_port/static.txt"
y=$rps

echo "{\"bench\":\"http_status_rps\",\"value\":$x}"
echo "{\"bench\":\"nginx_static_rps\",\"value\":$y}"
awk -v x="$x" -v y="$y" 'BEGIN {
    printf "{\"bench\":\"http_ratio\",\"value\":%.4f,\"target\":0.5}\n", x / y
}'
