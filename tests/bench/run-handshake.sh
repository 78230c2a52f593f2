#!/bin/sh
# run-handshake.sh: handshake round trips and time to first byte (issue 3,
# doc/BENCHMARKS.md), each --rounds times:
#  1. bench_handshake on loopback and through its UDP delay relay
#     (DELAY ms each way), kernel TCP on loopback beside it;
#  2. as root, tryst and kernel TCP through one delayed IP link between two
#     network namespaces this script makes and deletes (tun_delay, DELAY ms
#     each way), so TCP's own handshake crosses the delay too.
# Run from the build directory:  tests/bench/run-handshake.sh [--rounds N]
# [--runs N] [--delay-ms D]
set -eu
rounds=3 runs=50 delay=10
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--delay-ms) delay=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--runs N] [--delay-ms D]" >&2; exit 2 ;;
	esac
done
b=tests/bench
t=$(mktemp -d /tmp/tryst-hs.XXXXXX)
na=tryst-hs-a-$$ nb=tryst-hs-b-$$
pids=
cleanup() {
	exec 9>&- # the responder's standard input ends: it stops by itself
	for p in $pids; do
		for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
		kill "$p" 2>/dev/null || :
	done
	[ -n "${tun_pid:-}" ] && kill "$tun_pid" 2>/dev/null || :
	wait 2>/dev/null || :
	ip netns del "$na" 2>/dev/null || :
	ip netns del "$nb" 2>/dev/null || :
	rm -rf "$t"
}
trap cleanup EXIT INT TERM

for i in $(seq 1 "$rounds"); do
	echo "--- round $i: loopback and the UDP relay"
	$b/bench_handshake --runs "$runs" --delay-ms "$delay"
done

if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
	echo "(not root: the delayed namespace link is skipped)"
	exit 0
fi
ip netns add "$na"
ip netns add "$nb"
ip -n "$na" link set lo up
ip -n "$nb" link set lo up
$b/tun_delay "$na" "$nb" "$delay" >"$t/tun.out" &
tun_pid=$!
for _ in $(seq 1 100); do grep -q ready "$t/tun.out" && break; sleep 0.05; done
grep -q ready "$t/tun.out" || { echo "tun_delay did not start" >&2; exit 1; }
ip -n "$na" addr add 10.213.0.1/30 dev tdly
ip -n "$nb" addr add 10.213.0.2/30 dev tdly
ip -n "$na" link set tdly up
ip -n "$nb" link set tdly up
# The responder serves until its standard input (a fifo held open here) ends.
mkfifo "$t/hold"
ip netns exec "$nb" $b/bench_handshake --serve 10.213.0.2 <"$t/hold" >"$t/serve.out" &
pids="$pids $!"
exec 9>"$t/hold"
for _ in $(seq 1 100); do grep -q SERVE "$t/serve.out" && break; sleep 0.05; done
line=$(grep SERVE "$t/serve.out") || { echo "responder did not start" >&2; exit 1; }
key=$(echo "$line" | sed 's/.*key=\([^ ]*\).*/\1/')
up=$(echo "$line" | sed 's/.*udp=\([0-9]*\).*/\1/')
tp=$(echo "$line" | sed 's/.*tcp=\([0-9]*\).*/\1/')
for i in $(seq 1 "$rounds"); do
	echo "--- round $i: one IP link, $delay ms each way (tun_delay), between namespaces"
	ip netns exec "$na" $b/bench_handshake --dial 10.213.0.2 --udp-port "$up" \
		--tcp-port "$tp" --key "$key" --runs "$runs"
done
