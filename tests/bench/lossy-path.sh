#!/usr/bin/env bash
# lossy-path.sh: run a server and a client on either side of a rate-limited,
# randomly lossy router, all in network namespaces this script makes and
# removes again (even on failure or ^C).
#
#   lossy-path.sh [options] -- SERVER_CMD [ARGS...] -- CLIENT_CMD [ARGS...]
#
# Options:
#   --rate R        tbf rate on the router toward the server (default 100mbit)
#   --loss N        drop N % of TCP/UDP packets toward the server (default 0)
#   --burst B       tbf burst (default 64kb; at least rate/HZ)
#   --latency L     tbf queue, as the longest wait it allows (default 20ms)
#   --cc NAME       net.ipv4.tcp_congestion_control in both end namespaces
#   --wait S        seconds between starting the server and the client (0.5)
#   --keep-offloads leave segmentation offloads on (see below)
#
# In the commands, @SERVER_IP@, @CLIENT_IP@, @SERVER_IP6@ and @CLIENT_IP6@
# are replaced by the end addresses.  The client runs in the foreground;
# the server gets 10 s to exit after it, then is stopped.  Exit status: the
# client's (or the server's, if the client succeeded and the server failed);
# 77 (skip) without root, ip, tc or nft.
#
# Topology (addresses exist only inside these namespaces):
#
#   client 10.231.1.1 --- r0 [router] r1 =tbf=> r1b --[br0, drop]-- r2 --- 10.231.2.1 server
#   fd00:231:1::1             10.231.1.254 / 10.231.2.254                 fd00:231:2::1
#
# Why this shape (LAB.md, the lab notes on the test machine): a tbf on the
# sender's own interface never drops UDP, it blocks the sender, so the shaper sits on a
# router.  The random drop (nftables numgen, measured to give the asked
# rate) must come after the shaper: every netfilter hook on the router's
# routing path runs before its egress qdisc, so the router hands shaped
# packets to itself through a veth pair into a bridge and drops them in the
# bridge's forward hook.  Loss is one-way, toward the server (the data
# direction when the client sends); acknowledgements are neither shaped nor
# dropped.  The ends' interfaces get gso_max_segs 1 so every packet on the
# path is one wire-sized packet and loss applies per packet, not per 64 KiB
# offload burst.
set -u

rate=100mbit loss=0 burst=64kb latency=20ms cc='' wait_s=0.5 offloads=0
while [ $# -gt 0 ]; do
	case $1 in
	--rate) rate=$2; shift 2 ;;
	--loss) loss=$2; shift 2 ;;
	--burst) burst=$2; shift 2 ;;
	--latency) latency=$2; shift 2 ;;
	--cc) cc=$2; shift 2 ;;
	--wait) wait_s=$2; shift 2 ;;
	--keep-offloads) offloads=1; shift ;;
	--) shift; break ;;
	*) echo "lossy-path: unknown option $1" >&2; exit 2 ;;
	esac
done
server=() client=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do server+=("$1"); shift; done
[ $# -gt 0 ] && shift
client=("$@")
if [ ${#server[@]} -eq 0 ] || [ ${#client[@]} -eq 0 ]; then
	echo "usage: lossy-path.sh [options] -- SERVER_CMD... -- CLIENT_CMD..." >&2
	exit 2
fi
case $loss in
'' | *[!0-9]*) echo "lossy-path: --loss wants an integer percentage" >&2; exit 2 ;;
esac
if [ "$loss" -gt 100 ]; then echo "lossy-path: --loss at most 100" >&2; exit 2; fi

skip() { echo "lossy-path: SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
for t in ip tc nft; do command -v $t >/dev/null || skip "$t not found"; done

S_IP=10.231.2.1 C_IP=10.231.1.1 S_IP6=fd00:231:2::1 C_IP6=fd00:231:1::1
tag=trst-lp-$$
C=$tag-client R=$tag-router S=$tag-server
created=() spid=

cleanup() {
	if [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	# Deleting a namespace removes its interfaces, qdiscs and tables.
	for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null; done
}
# shellcheck disable=SC2317 # called through the trap
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "lossy-path: $*" >&2; exit 1; }
run() { "$@" || fail "failed: $*"; }

for ns in $C $R $S; do
	ip netns add "$ns" 2>/dev/null || skip "cannot create network namespaces"
	created+=("$ns")
	run ip -n "$ns" link set lo up
done
run ip link add c0 netns $C type veth peer name r0 netns $R
run ip link add r1 netns $R type veth peer name r1b netns $R
run ip link add r2 netns $R type veth peer name s0 netns $S
run ip -n $R link add br0 type bridge
run ip -n $R link set r1b master br0
run ip -n $R link set r2 master br0
for l in r0 r1 r1b r2 br0; do run ip -n $R link set $l up; done
run ip -n $C link set c0 up
run ip -n $S link set s0 up
if [ "$offloads" = 0 ]; then
	run ip -n $C link set c0 gso_max_segs 1
	run ip -n $S link set s0 gso_max_segs 1
fi

run ip -n $C addr add $C_IP/24 dev c0
run ip -n $R addr add 10.231.1.254/24 dev r0
run ip -n $R addr add 10.231.2.254/24 dev r1
run ip -n $S addr add $S_IP/24 dev s0
run ip -n $C -6 addr add $C_IP6/64 dev c0 nodad
run ip -n $R -6 addr add fd00:231:1::fe/64 dev r0 nodad
run ip -n $R -6 addr add fd00:231:2::fe/64 dev r1 nodad
run ip -n $S -6 addr add $S_IP6/64 dev s0 nodad
run ip -n $C route add default via 10.231.1.254
run ip -n $S route add default via 10.231.2.254
run ip -n $C -6 route add default via fd00:231:1::fe
run ip -n $S -6 route add default via fd00:231:2::fe
run ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
run ip netns exec $R sysctl -qw net.ipv6.conf.all.forwarding=1

run ip netns exec $R tc qdisc add dev r1 root tbf rate "$rate" burst "$burst" latency "$latency"
if [ "$loss" -gt 0 ]; then
	# bridge family: the hook sees the frames r1 -> r1b -> r2 after tbf.
	ip netns exec $R nft -f - <<-EOF || fail "nft rules refused"
	table bridge trst_lossy {
		chain after_shaper {
			type filter hook forward priority 0; policy accept;
			iifname "r1b" meta l4proto { tcp, udp } numgen random mod 100 < $loss counter drop
		}
	}
	EOF
fi
if [ -n "$cc" ]; then
	grep -qw -- "$cc" /proc/sys/net/ipv4/tcp_available_congestion_control ||
		fail "congestion control '$cc' not available (have: $(cat /proc/sys/net/ipv4/tcp_available_congestion_control); try modprobe tcp_$cc)"
	# A namespace other than the first may only make an algorithm listed
	# in net.ipv4.tcp_allowed_congestion_control its default (EPERM
	# otherwise); a program can still pick any per socket (TCP_CONGESTION,
	# tcp(7), with CAP_NET_ADMIN), as tcp_blast --cc does.
	for ns in $C $S; do
		ip netns exec "$ns" sysctl -qw net.ipv4.tcp_congestion_control="$cc" 2>/dev/null ||
			echo "lossy-path: warning: cannot make $cc the default in $ns (not in tcp_allowed_congestion_control); set it per socket" >&2
	done
fi

subst() {
	local a
	for a in "$@"; do
		a=${a//@SERVER_IP@/$S_IP}
		a=${a//@CLIENT_IP@/$C_IP}
		a=${a//@SERVER_IP6@/$S_IP6}
		a=${a//@CLIENT_IP6@/$C_IP6}
		printf '%s\0' "$a"
	done
}
mapfile -d '' server < <(subst "${server[@]}")
mapfile -d '' client < <(subst "${client[@]}")

echo "lossy-path: rate $rate, loss $loss %, burst $burst, latency $latency${cc:+, cc $cc}; server $S_IP" >&2
ip netns exec $S "${server[@]}" &
spid=$!
sleep "$wait_s"
ip netns exec $C "${client[@]}"
crc=$?

# The server gets 10 s to finish on its own.
src=0
for _ in $(seq 100); do
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$spid" 2>/dev/null; then
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
else
	wait "$spid"
	src=$?
fi
spid=

# What the path did: packets through the shaper and the random drop.
shaped=$(ip netns exec $R tc -s qdisc show dev r1 | sed -n 's/.*Sent [0-9]* bytes \([0-9]*\) pkt (dropped \([0-9]*\).*/\1 \2/p')
dropped=$(ip netns exec $R nft list ruleset 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
read -r passed tbfdrop <<<"$shaped"
echo "lossy-path: shaper passed ${passed:-?} packets and dropped ${tbfdrop:-?}; random drop took ${dropped:-0}" \
	"($(awk -v d="${dropped:-0}" -v p="${passed:-0}" 'BEGIN { printf "%.2f", p ? 100 * d / p : 0 }') % of those)" >&2

[ "$crc" -ne 0 ] && exit "$crc"
exit "$src"
