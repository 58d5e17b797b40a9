#!/usr/bin/env bash
# Instructions per request on the keyspace thread, counted by callgrind: a number machine
# noise does not move, for comparing two builds of a hot-path change.
#   Bench/instructions.sh [WORKLOAD,...]    (default PING,GET,SET,LPUSH,ZADD; see keyspace-bench)
# Each workload runs twice (50,000 and 150,000 requests, batches of 16); the difference,
# divided by 100,000, is the cost of one request without start-up. The server itself cannot
# run under valgrind (io_uring_enter blocks while holding valgrind's lock), hence the
# engine-only keyspace-bench. Needs valgrind (apt-get install valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
workloads=${1:-PING,GET,SET,LPUSH,ZADD}
swift build -c release --product keyspace-bench >/dev/null
# valgrind 3.19 cannot read the toolchain's debug information: count on a stripped copy.
bin=$(mktemp /tmp/keyspace-bench.XXXXXX)
trap 'rm -f "$bin"' EXIT
cp .build/release/keyspace-bench "$bin"
objcopy --strip-debug "$bin"
chmod +x "$bin"
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" 100000 16 "$2" 2>&1 | awk '/Collected/ {print $4}'; }
for w in ${workloads//,/ }; do
    small=$(count 50000 "$w")
    large=$(count 150000 "$w")
    echo "$w $(( (large - small) / 100000 )) instructions/request"
done
