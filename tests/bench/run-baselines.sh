#!/usr/bin/env bash
# run-baselines.sh: run the baseline measurements of tests/bench/README.md
# (raw UDP and kernel TCP on loopback; kernel TCP through the lossy path)
# several times and print the medians as Markdown tables.
#
#   tests/bench/run-baselines.sh [--runs N] [--seconds T] [--no-lossy]
#
# Run from the build directory (the programs are looked up as
# tests/bench/udp_blast and tests/bench/tcp_blast, or in $BENCH_BIN).
# The lossy-path part needs root; without it, it is left out.
set -u
runs=3 seconds=10 lossy=1
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--no-lossy) lossy=0; shift ;;
	*) echo "usage: run-baselines.sh [--runs N] [--seconds T] [--no-lossy]" >&2; exit 2 ;;
	esac
done
here=$(cd "$(dirname "$0")" && pwd)
bin=${BENCH_BIN:-tests/bench}
for p in udp_blast tcp_blast udpio_blast; do
	[ -x "$bin/$p" ] || { echo "run-baselines: $bin/$p not built (make)" >&2; exit 2; }
done
log=$(mktemp /tmp/trst-baselines.XXXXXX)
trap 'rm -f "$log"' EXIT

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# the value of key $2 on lines starting $1 in file $3
field() { sed -n "s/^$1 .*$2=\([^ ]*\).*/\1/p" "$3"; }

echo "date: $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| what | bytes | sender MB/s | receiver MB/s | receiver pkt/s | loss % | sender CPU s | receiver CPU s |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
udp_case() { # program label bytes args...
	local prog=$1 label=$2 bytes=$3
	shift 3
	: >"$log"
	for _ in $(seq "$runs"); do
		"$bin/$prog" --bytes "$bytes" "$@" >>"$log" 2>&1
	done
	echo "| $label | $bytes | $(field SEND send_MBps "$log" | median) | $(field RECV recv_MBps "$log" | median)" \
		"| $(field RECV recv_pps "$log" | median) | $(field RECV loss_pct "$log" | median)" \
		"| $(field SEND send_cpu_s "$log" | median) | $(field RECV recv_cpu_s "$log" | median) |"
}
udp_case udp_blast "udp_blast --mode single --size 1200" 1G --mode single --size 1200
udp_case udp_blast "udp_blast --mode mmsg --size 1200 (batch 32)" 1G --mode mmsg --size 1200
udp_case udp_blast "udp_blast --mode mmsg --size 1200 --unconnected" 1G --mode mmsg --size 1200 \
	--unconnected
udp_case udp_blast "udp_blast --mode gso --size 1200 (48 segments, GRO)" 4G --mode gso --size 1200
udp_case udp_blast "udp_blast --mode gso --size 1200 --unconnected" 4G --mode gso --size 1200 \
	--unconnected
udp_case udpio_blast "udpio_blast --no-gso --no-gro (src/udp.c: sendmmsg/recvmmsg)" 1G \
	--no-gso --no-gro --size 1200
udp_case udpio_blast "udpio_blast (src/udp.c: GSO 48 segments + GRO)" 4G --size 1200
# BBR paces even on loopback, which costs it about a third here.
for cc in cubic bbr; do
	grep -qw $cc /proc/sys/net/ipv4/tcp_available_congestion_control || continue
	: >"$log"
	for _ in $(seq "$runs"); do "$bin/tcp_blast" --bytes 8G --cc $cc >>"$log" 2>&1; done
	echo "| tcp_blast --cc $cc (loopback) | 8G | $(field SEND send_MBps "$log" | median)" \
		"| $(field RECV recv_MBps "$log" | median) | - | - | $(field SEND send_cpu_s "$log" | median)" \
		"| $(field RECV recv_cpu_s "$log" | median) |"
done
echo
echo "($runs runs each; medians.  MB = 10^6 bytes.)"

[ "$lossy" = 1 ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo
	echo "(lossy path left out: needs root)"
	exit 0
fi
echo
echo "| congestion control | loss % asked | loss % measured | goodput Mbit/s (median) | all runs |"
echo "| --- | --- | --- | --- | --- |"
for cc in cubic bbr; do
	if ! grep -qw $cc /proc/sys/net/ipv4/tcp_available_congestion_control; then
		echo "| $cc | - | - | unavailable (modprobe tcp_$cc) | |"
		continue
	fi
	for loss in 0 1 5; do
		: >"$log"
		for _ in $(seq "$runs"); do
			"$here/lossy-path.sh" --rate 100mbit --loss "$loss" -- \
				"$bin/tcp_blast" --recv 5201 -- \
				"$bin/tcp_blast" --send @SERVER_IP@:5201 --seconds "$seconds" --cc $cc \
				>>"$log" 2>&1
		done
		# lossy-path.sh reports the drop it measured: "(x.xx % of those)"
		measured=$(sed -n 's/.*random drop took .*(\([0-9.]*\) % of those).*/\1/p' "$log" | median)
		echo "| $cc | $loss | $measured | $(field RECV recv_Mbitps "$log" | median) |" \
			"$(field RECV recv_Mbitps "$log" | tr '\n' ' ')|"
	done
done
echo
echo "(tbf 100mbit burst 64kb latency 20ms on the router; $seconds s per run; $runs runs.)"
