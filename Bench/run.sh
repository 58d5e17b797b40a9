#!/usr/bin/env bash
# Throughput and CPU cost of the release build side by side with redis-server, using the shared
# harness (../shared/bench/vs_redis.py): PING_INLINE, PING_MBULK, SET, GET, INCR and MSET at
# -P 1 and -P 16 with 50 clients, then at -P 1 with a single client.
# Output goes to stdout and to a file under /tmp; nothing generated lands in the repository.
# Extra arguments are passed on to vs_redis.py (e.g. --requests 200000 --rounds 3).
set -euo pipefail
cd "$(dirname "$0")/.."

harness=../shared/bench/vs_redis.py
[ -f "$harness" ] || { echo "Bench/run.sh: $harness not found (shared/ must sit beside the repo)" >&2; exit 1; }

swift build -c release
# Absolute: the harness starts servers from a scratch directory of its own.
server="$PWD/.build/release/swift-redis --port {port} --bind 127.0.0.1 --save '' --appendonly no"
out="/tmp/swift-redis-bench-$(date +%Y%m%d-%H%M%S).txt"
tests=ping_inline,ping_mbulk,set,get,incr,mset

# vs_redis.py exits 1 when a ratio is below --min-ratio (its default is 0; we ask for 1.0): run both sets anyway
# and exit with the worst status, so `make bench` says whether we kept up with redis-server.
{
    status=0
    echo "# $(git rev-parse --short HEAD 2>/dev/null || echo unknown) $(date -Is) $(nproc) cores"
    echo "## 50 clients, pipeline 1 and 16"
    python3 "$harness" --server "$server" --tests "$tests" --pipeline 1,16 --clients 50 --min-ratio 1.0 "$@" || status=$?
    echo "## 1 client, pipeline 1"
    python3 "$harness" --server "$server" --tests "$tests" --pipeline 1 --clients 1 --min-ratio 1.0 "$@" || status=$?
    echo "## keyspace thread alone (pre-parsed GET/SET batches, no network)"
    swift build -c release --product keyspace-bench >/dev/null && .build/release/keyspace-bench 3000000
    echo "exit status $status"
    exit "$status"
} 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
echo "Bench/run.sh: results saved to $out"
exit "$status"
