# natlab.sh: the NAT lab, sourced by the NAT tests (DESIGN.md section 10)
# after tests/testlib.sh.
# It builds network namespaces, veth pairs and iptables NAT itself, and
# removes all of them again on exit (even on failure or ^C).  Every address
# exists only inside these namespaces.
#
#   nl_require             exit 77 (SKIP) unless root with ip and iptables
#   nl_setup               build the topology below
#   nl_nat R MODE          NAT behaviour of router R (1 or 2):
#                            home   MASQUERADE (endpoint-independent mapping,
#                                   port kept when free) and the home-router
#                                   firewall: unsolicited inbound dropped
#                            random MASQUERADE --random-fully (a new port per
#                                   destination: "symmetric") + firewall
#   nl_run NS CMD...       run CMD in namespace NS (pub, r1, r2, a, b)
#   nl_cleanup             kill what nl_bg started, delete every namespace
#                          (a test calls it from its exit cleanup)
#   nl_bg NS OUT ERR CMD...  start CMD in NS in the background
#
# Topology:
#
#       a 10.0.1.2 --- 10.0.1.1 [r1] 100.64.1.2 ---+
#                                                  | 100.64.1.1
#                                                [pub]  the public Internet:
#                                                  | 100.64.2.1  servers and
#       b 10.0.2.2 --- 10.0.2.1 [r2] 100.64.2.2 ---+     public hosts live here
#
# pub routes between the two router WANs; a and b reach it only through
# their router's NAT.  The routers' firewalls follow LAB.md: without the
# rule dropping unsolicited inbound packets, Linux keeps an UNREPLIED entry
# for the first punch packet and re-maps the inside host, which no home
# router does.

NL_ID=${NL_ID:-tl$$}
NL_PIDS=

nl_require() {
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null 2>&1 ||
		! command -v iptables >/dev/null 2>&1; then
		echo "SKIP: the NAT lab needs root, ip and iptables"
		exit 77
	fi
	if ! ip netns add "${NL_ID}-probe" 2>/dev/null; then
		echo "SKIP: cannot create network namespaces here"
		exit 77
	fi
	ip netns del "${NL_ID}-probe"
}

nl_ns() { echo "${NL_ID}-$1"; }
nl_run() {
	ns=$(nl_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

nl_bg() {
	ns=$(nl_ns "$1")
	out=$2 err=$3
	shift 3
	ip netns exec "$ns" "$@" >"$out" 2>"$err" &
	NL_PIDS="$NL_PIDS $!"
	NL_LAST=$!
}

nl_cleanup() {
	for p in $NL_PIDS; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in a b r1 r2 pub; do ip netns del "$(nl_ns $n)" 2>/dev/null; done
}

nl_setup() {
	for n in pub r1 r2 a b; do
		ip netns add "$(nl_ns $n)" || return 1
		nl_run $n ip link set lo up
	done
	for i in 1 2; do
		# router i's WAN <-> pub
		ip link add "${NL_ID}w$i" type veth peer name "${NL_ID}p$i" || return 1
		ip link set "${NL_ID}w$i" netns "$(nl_ns r$i)" name wan
		ip link set "${NL_ID}p$i" netns "$(nl_ns pub)" name "r$i"
		nl_run pub ip addr add "100.64.$i.1/24" dev "r$i"
		nl_run pub ip link set "r$i" up
		nl_run r$i ip addr add "100.64.$i.2/24" dev wan
		nl_run r$i ip link set wan up
		nl_run r$i ip route add default via "100.64.$i.1"
		# host <-> router i's LAN
		h=$([ $i = 1 ] && echo a || echo b)
		ip link add "${NL_ID}l$i" type veth peer name "${NL_ID}h$i" || return 1
		ip link set "${NL_ID}l$i" netns "$(nl_ns r$i)" name lan
		ip link set "${NL_ID}h$i" netns "$(nl_ns $h)" name eth0
		nl_run r$i ip addr add "10.0.$i.1/24" dev lan
		nl_run r$i ip link set lan up
		nl_run $h ip addr add "10.0.$i.2/24" dev eth0
		nl_run $h ip link set eth0 up
		nl_run $h ip route add default via "10.0.$i.1"
		nl_run r$i sysctl -qw net.ipv4.ip_forward=1
	done
	nl_run pub sysctl -qw net.ipv4.ip_forward=1
}

nl_nat() {
	r=r$1
	mode=$2
	nl_run $r iptables -t nat -F
	nl_run $r iptables -F
	case $mode in
	home) nl_run $r iptables -t nat -A POSTROUTING -o wan -j MASQUERADE ;;
	random) nl_run $r iptables -t nat -A POSTROUTING -o wan -j MASQUERADE --random-fully ;;
	*) echo "nl_nat: unknown mode $mode" >&2; return 1 ;;
	esac
	nl_run $r iptables -A INPUT -i wan -m conntrack --ctstate NEW,INVALID -j DROP
	nl_run $r iptables -A FORWARD -i wan -m conntrack --ctstate NEW,INVALID -j DROP
}
