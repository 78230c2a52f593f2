#!/bin/sh
# run-server.sh: the rendezvous server over the wire (doc/BENCHMARKS.md,
# "Rendezvous server over the wire").  For each run, a fresh `tryst server`
# process on 127.0.0.1 (--no-dht; the rate limit raised, since the load
# generator is one source address; more registrations per key for "all";
# relay limits raised for the throughput phase), then bench_server against
# it.  Prints each run's figures and their RESULT lines.
#
#   tests/bench/run-server.sh [RUNS] [bench_server options...]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
TRYST=${TRYST:-$top/src/tryst}
BENCH=${BENCH:-$top/tests/bench/bench_server}
runs=${1:-3}
[ $# -gt 0 ] && shift
t=$(mktemp -d /tmp/tryst-bench-srv.XXXXXX)
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null && wait "$spid" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
"$TRYST" keygen -o "$t/s" >"$t/s.key" 2>/dev/null
skey=$(cat "$t/s.key")
i=1
while [ $i -le "$runs" ]; do
	# files of its own per run: the server truncates them in the background,
	# and a stale "on UDP port" line would point at the previous server
	"$TRYST" server -i "$t/s" --listen 127.0.0.1:0 --no-dht --rate 100000000 \
		--burst 100000000 --max-per-key 200 --relay-max-bytes 100000000000 \
		--relay-max-seconds 3600 >"$t/stats$i" 2>"$t/server$i.err" &
	spid=$!
	n=0
	until grep -q "on UDP port" "$t/server$i.err" 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 100 ] && { cat "$t/server$i.err"; exit 1; }
		sleep 0.05
	done
	sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server$i.err" | head -1)
	echo "== run $i ($(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg))"
	"$BENCH" --server "$skey@127.0.0.1:$sport" --pid "$spid" "$@"
	kill -USR1 "$spid"
	sleep 0.2
	echo "server stats: $(tail -1 "$t/stats$i")"
	kill "$spid"
	wait "$spid" || true
	spid=
	i=$((i + 1))
done
