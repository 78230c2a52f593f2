#!/bin/sh
# run-relay.sh: relay throughput (issue 4, doc/BENCHMARKS.md).  A real
# `tryst server` on loopback, `tryst listen --server` and
# `tryst connect KEY --server` moving SIZE MiB one way, alternately through
# the server's relay (--relay-only) and directly, --rounds times each, in
# one run: MB/s of each transfer (wall time of the dialing process, dial
# included) and the CPU seconds the server process spent on it
# (/proc/PID/stat utime + stime).  Prints one line per transfer and the
# medians.  Run from the build directory:
#   tests/bench/run-relay.sh [--rounds N] [--mib SIZE]
set -eu
[ -n "${DEBUG:-}" ] && set -x
rounds=3 mib=256
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--mib) mib=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--mib SIZE]" >&2; exit 2 ;;
	esac
done
TRYST=${TRYST:-src/tryst}
t=$(mktemp -d /tmp/tryst-relay-bench.XXXXXX)
spid=
cleanup() {
	[ -n "$spid" ] && kill "$spid" 2>/dev/null || :
	wait 2>/dev/null || :
	rm -rf "$t"
}
trap cleanup EXIT INT TERM

for k in s a b; do "$TRYST" keygen -o "$t/$k" >"$t/$k.key" 2>/dev/null; done
akey=$(cat "$t/a.key")
head -c $((mib * 1048576)) /dev/zero >"$t/data" # content does not matter: it is encrypted
# The circuit's byte limit (64 MiB by default) must not end the transfer.
"$TRYST" server -i "$t/s" --listen 127.0.0.1:0 --no-dht --relay-max-bytes $((4 * mib * 1048576)) \
	>/dev/null 2>"$t/server.err" &
spid=$!
for _ in $(seq 1 100); do grep -q "on UDP port" "$t/server.err" && break; sleep 0.05; done
sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)
srv="$(cat "$t/s.key")@127.0.0.1:$sport"
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$spid/stat"; }
now_ns() { date +%s%N; }

one() { # mode (relay|direct)
	flag=
	[ "$1" = relay ] && flag=--relay-only
	"$TRYST" listen -i "$t/a" --bind 127.0.0.1 --no-dht --server "$srv" </dev/null \
		>/dev/null 2>"$t/listen.err" &
	lpid=$!
	for _ in $(seq 1 100); do grep -q "rendezvous server" "$t/listen.err" && break; sleep 0.05; done
	sleep 0.3 # registered
	c0=$(cpu)
	t0=$(now_ns)
	"$TRYST" connect "$akey" -i "$t/b" --no-dht --server "$srv" $flag -v -t 10 <"$t/data" \
		>/dev/null 2>"$t/connect.err" || { echo "connect failed: $(cat "$t/connect.err")" >&2; exit 1; }
	t1=$(now_ns)
	wait $lpid || { echo "listener failed: $(cat "$t/listen.err")" >&2; exit 1; }
	c1=$(cpu)
	path=$(sed -n 's/.*connected in [0-9.]* ms, \(relayed\|direct\).*/\1/p' "$t/connect.err")
	[ "$path" = "$( [ "$1" = relay ] && echo relayed || echo direct)" ] ||
		{ echo "wrong path for $1: $(grep connected "$t/connect.err")" >&2; exit 1; }
	echo "$1 $(awk -v b=$((mib * 1048576)) -v ns=$((t1 - t0)) -v c=$((c1 - c0)) -v tk="$tick" \
		'BEGIN { printf "%.1f MB/s  server CPU %.2f s (%.0f %% of the transfer)", b / (ns / 1e3), c / tk, 100 * (c / tk) / (ns / 1e9) }')" |
		tee -a "$t/results"
}

for i in $(seq 1 "$rounds"); do
	one relay
	one direct
done
echo "--- medians of $rounds ($mib MiB each)"
for m in relay direct; do
	grep "^$m " "$t/results" | awk '{print $2}' | sort -n |
		awk -v m=$m '{v[NR] = $1} END { printf "%s: %.1f MB/s", m, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
	grep "^$m " "$t/results" | awk '{print $6}' | sort -n |
		awk '{v[NR] = $1} END { printf ", server CPU %.2f s\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
done
