#!/bin/sh
# run-mesh.sh: how long a mesh takes to form on loopback.  A real `tryst
# server` and N `tryst mesh --json` processes started at once; the time
# from the start until every member has reported `connected` for every
# other (N * (N-1) events), repeated R times; median and all runs.
#
#   [INTERVAL=SECS] tests/bench/run-mesh.sh [N [R]]   (from the build directory)
set -u
TRYST=${TRYST:-src/tryst}
n=${1:-8}
runs=${2:-5}
interval=${INTERVAL:-1} # how often every member asks for new members
t=$(mktemp -d /tmp/tryst-meshbench.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
now_ms() { echo $(($(date +%s%N) / 1000000)); }

"$TRYST" keygen -o "$t/s" >/dev/null 2>&1
i=0
while [ $i -lt "$n" ]; do "$TRYST" keygen -o "$t/m$i" >/dev/null 2>&1; i=$((i + 1)); done
results=
r=0
while [ $r -lt "$runs" ]; do
	# Every member is on 127.0.0.1: one rate-limit bucket for all, so lift it.
	"$TRYST" server -i "$t/s" --listen 127.0.0.1:0 --no-dht --rate 100000 --burst 100000 >/dev/null 2>"$t/server.err" &
	spid=$!
	while ! grep -q "on UDP port" "$t/server.err" 2>/dev/null; do sleep 0.05; done
	sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)
	mpids=
	t0=$(now_ms)
	i=0
	while [ $i -lt "$n" ]; do
		"$TRYST" mesh -i "$t/m$i" --bind 127.0.0.1 --no-dht --json --namespace bench \
			--server "127.0.0.1:$sport" --interval "$interval" >"$t/m$i.out" 2>/dev/null &
		mpids="$mpids $!"
		i=$((i + 1))
	done
	pids="$spid $mpids"
	want=$((n * (n - 1)))
	while [ "$(cat "$t"/m*.out | grep -c '"event":"connected"')" -lt $want ]; do
		sleep 0.01
		[ $(($(now_ms) - t0)) -gt 60000 ] && { echo "run $r: not formed in 60 s"; exit 1; }
	done
	ms=$(($(now_ms) - t0))
	results="$results $ms"
	echo "run $r: $n members, $want links reported in $ms ms"
	for p in $mpids; do kill "$p"; done
	for p in $mpids; do wait "$p"; done
	kill "$spid"
	wait "$spid"
	r=$((r + 1))
done
med=$(printf '%s\n' $results | sort -n | sed -n "$(((runs + 1) / 2))p")
echo "mesh of $n: median $med ms to full mesh (runs:$results)"
