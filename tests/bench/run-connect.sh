#!/bin/sh
# run-connect.sh: time from `tryst connect KEY` to the first byte, knowing
# nothing but the key, through the DHT alone (a private 20-node OpenDHT
# network on 127.0.0.1, tests/dhtnodes) next to the same through a
# rendezvous server (`tryst server` on 127.0.0.1), interleaved in one run.
# Each trial starts a fresh `tryst listen` (which publishes or registers,
# then sends one byte) and times a fresh `tryst connect` process from its
# start to the first byte on its stdout: process start, the DHT node's
# bootstrap or the server binding, lookup, knock/CONNECT, punching,
# handshake.  For scale, the same with the address given (--addr, no
# discovery at all).  Run from the build directory.
#
#   tests/bench/run-connect.sh [TRIALS]        (default 20)
set -eu
trials=${1:-20}
T=src/tryst
t=$(mktemp -d /tmp/tryst-ttfb.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$t"
}
trap cleanup EXIT
NET=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
NET=$((NET | 1))
wait_for() {
	w=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		w=$((w + 1))
		[ $w -gt 200 ] && { echo "timeout waiting for $2 in $1" >&2; cat "$1" >&2; exit 1; }
		sleep 0.05
	done
}
now() { date +%s.%N; }

tests/dhtnodes -n 20 --network $NET >"$t/dht.ports" 2>/dev/null &
pids="$pids $!"
wait_for "$t/dht.ports" '[0-9]'
sleep 2 # let the new network's routing tables fill
boot="127.0.0.1:$(cut -d' ' -f1 "$t/dht.ports")"
boot2="127.0.0.1:$(cut -d' ' -f20 "$t/dht.ports")"
$T keygen -o "$t/s" >"$t/s.key" 2>/dev/null
$T server -i "$t/s" --listen 127.0.0.1:0 --no-dht >/dev/null 2>"$t/server.err" &
pids="$pids $!"
wait_for "$t/server.err" "on UDP port"
srv="$(cat "$t/s.key")@127.0.0.1:$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)"
printf x >"$t/one"

# trial MODE N: prints the milliseconds to the first byte, or "fail"
trial() {
	mode=$1 n=$2
	$T keygen -o "$t/a$n" >"$t/a$n.key" 2>/dev/null
	$T keygen -o "$t/b$n" >/dev/null 2>&1
	key=$(cat "$t/a$n.key")
	if [ "$mode" = dht ]; then
		$T listen -i "$t/a$n" --bind 127.0.0.1 --bootstrap "$boot" --dht-network $NET \
			<"$t/one" >/dev/null 2>"$t/l$n.err" &
		lp=$!
		wait_for "$t/l$n.err" "published in the DHT"
		sleep 0.2 # the record's put reaches the DHT (about 5 ms, BENCHMARKS.md)
		set -- --bootstrap "$boot2" --dht-network $NET
	elif [ "$mode" = addr ]; then
		$T listen -i "$t/a$n" --bind 127.0.0.1 --no-dht <"$t/one" >/dev/null 2>"$t/l$n.err" &
		lp=$!
		wait_for "$t/l$n.err" "on UDP port"
		set -- --no-dht --addr "127.0.0.1:$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/l$n.err" | head -1)"
	else
		$T listen -i "$t/a$n" --bind 127.0.0.1 --no-dht --server "$srv" \
			<"$t/one" >/dev/null 2>"$t/l$n.err" &
		lp=$!
		wait_for "$t/l$n.err" "rendezvous server"
		sleep 0.2 # its binding and registration
		set -- --no-dht --server "$srv"
	fi
	# The first byte ends the measurement (head exits; the dialer dies of
	# SIGPIPE, which is fine here).
	s=$(now)
	b=$($T connect "$key" -i "$t/b$n" "$@" -t 10 </dev/null 2>"$t/c$n.err" | head -c1)
	e=$(now)
	if [ "$b" = x ]; then
		echo "$s $e" | awk '{printf "%.1f\n", ($2 - $1) * 1000}'
	else
		echo fail
	fi
	kill $lp 2>/dev/null || true
	wait $lp 2>/dev/null || true
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "-"}'; }
p95() { sort -n | awk '{a[NR]=$1} END {i=int(NR*0.95+0.999); if (i<1) i=1; if (NR) print a[i]; else print "-"}'; }

: >"$t/dht.ms"
: >"$t/srv.ms"
: >"$t/addr.ms"
for i in $(seq 1 "$trials"); do
	trial dht "d$i" >>"$t/dht.ms"
	trial server "s$i" >>"$t/srv.ms"
	trial addr "a$i" >>"$t/addr.ms"
done
for m in dht srv addr; do
	f=$(grep -c fail "$t/$m.ms" || true)
	ok=$(grep -v fail "$t/$m.ms" || true)
	printf '%-28s trials %s, failed %s, median %s ms, p95 %s ms, min %s ms\n' \
		"$(case $m in dht) echo 'DHT alone (20 nodes)' ;; srv) echo 'rendezvous server' ;; *) echo 'known address (--addr)' ;; esac)" \
		"$trials" "$f" "$(echo "$ok" | median)" "$(echo "$ok" | p95)" \
		"$(echo "$ok" | sort -n | head -1)"
done
