#!/bin/sh
# nat_dht.sh (NAT lab): a listener behind a home NAT, reachable by its key
# alone through the DHT.  Its record names only its private address, which
# nobody outside can reach, and its router drops unsolicited packets; the
# dialer on the public side knocks on the listener's inbox, the listener
# punches back, and the dialer answers where the punch came from.  Shows
# `tryst connect KEY` (no address, no server) reaching `tryst listen`
# through the NAT, directly, with the bytes intact.  Needs root and
# iptables; reports SKIP (77) otherwise.
set -u
TRYST=${TRYST:?set by make check}
DHTNODES=${DHTNODES:?set by make check}
here=$(dirname "$0")
. "$here/testlib.sh"
. "$here/natlab/natlab.sh"
nl_require
NET=0x7e57a7
tl_extra_cleanup() { nl_cleanup; }
tl_begin natdht
nl_setup || { echo "cannot build the NAT lab"; exit 1; }
nl_nat 1 home

"$TRYST" keygen -o "$t/a" >"$t/a.key" 2>/dev/null
"$TRYST" keygen -o "$t/d" >/dev/null 2>&1
akey=$(cat "$t/a.key")
head -c 2000000 /dev/urandom >"$t/data"

# The DHT lives on the public side.
nl_bg pub "$t/dht.ports" "$t/dht.err" "$DHTNODES" -n 5 --network $NET
wait_for "$t/dht.ports" '[0-9]' 10 || { echo "dhtnodes did not start"; exit 1; }
dport=$(cut -d' ' -f1 "$t/dht.ports")

# The listener, behind r1's NAT, bound to its private address.
nl_bg a "$t/copy" "$t/listen.err" "$TRYST" listen -i "$t/a" --bind 10.0.1.2 \
	--bootstrap "100.64.1.1:$dport" --dht-network $NET
lpid=$NL_LAST
wait_for "$t/listen.err" "published in the DHT" 10 || bad "listener did not start: $(cat "$t/listen.err")"

# Its record is visible from the public side, and names only 10.0.1.2.
found=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	nl_run pub "$TRYST" lookup "$akey" --json --bootstrap "127.0.0.1:$dport" --dht-network $NET \
		-t 5 >"$t/lookup.json" 2>"$t/lookup.err" && { found=1; break; }
	sleep 0.5
done
[ $found = 1 ] && grep -q '"addr":"10.0.1.2:' "$t/lookup.json" &&
	ok "the listener's record is found from outside and names its private address" ||
	bad "lookup from outside: $(cat "$t/lookup.json" "$t/lookup.err")"

# Without the knock the private address is unreachable; with it, the
# dialer meets the listener through the NAT.
if nl_run pub "$TRYST" -v connect "$akey" -i "$t/d" --bootstrap "127.0.0.1:$dport" \
	--dht-network $NET -t 20 <"$t/data" >/dev/null 2>"$t/connect.err"; then
	ok "connect by key through the NAT exited 0"
else
	bad "connect by key through the NAT failed: $(cat "$t/connect.err")"
fi
wait $lpid && ok "listener exited 0" || bad "listener failed: $(cat "$t/listen.err")"
cmp -s "$t/data" "$t/copy" && ok "2 MB arrived byte-identical through the NAT" || bad "copy differs"
grep -q "connected to .* from 100.64.1.1:" "$t/listen.err" &&
	ok "the path is direct (the listener saw the dialer's own public address)" ||
	bad "path: $(grep connected "$t/listen.err")"

tl_end nat_dht
