#!/bin/sh
# nat_server.sh (NAT lab): brokered hole punching through two real NATs.
# A public segment holds `tryst server`; two private segments sit behind
# their own home routers (iptables MASQUERADE and the usual firewall that
# drops unsolicited inbound packets).  `tryst listen` behind one NAT and
# `tryst connect KEY` behind the other, each knowing only the server, meet
# directly -- not relayed -- and the bytes arrive intact.  Needs root and
# iptables; reports SKIP (77) otherwise.
set -u
TRYST=${TRYST:?set by make check}
here=$(dirname "$0")
. "$here/testlib.sh"
. "$here/natlab/natlab.sh"
nl_require
tl_extra_cleanup() { nl_cleanup; }
tl_begin natsrv
nl_setup || { echo "cannot build the NAT lab"; exit 1; }
nl_nat 1 home
nl_nat 2 home

for k in s a b; do "$TRYST" keygen -o "$t/$k" >"$t/$k.key" 2>/dev/null; done
skey=$(cat "$t/s.key")
akey=$(cat "$t/a.key")
head -c 2000000 /dev/urandom >"$t/data"

# Bound to its one public address: the lab's "Internet" router has two, and
# an unbound socket would answer the far side from the other one, which no
# NAT takes for a reply.
nl_bg pub /dev/null "$t/server.err" "$TRYST" server -i "$t/s" --listen 100.64.1.1:0 --no-dht
wait_for "$t/server.err" "on UDP port" 5 || { echo "server did not start: $(cat "$t/server.err")"; exit 1; }
sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)
srv="$skey@100.64.1.1:$sport"

nl_bg a "$t/copy" "$t/listen.err" "$TRYST" listen -i "$t/a" --no-dht --server "$srv" --namespace lab
lpid=$NL_LAST
sleep 1
ok=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	if nl_run b "$TRYST" -v connect "$akey" -i "$t/b" --no-dht --server "$srv" -t 5 \
		<"$t/data" >/dev/null 2>"$t/connect.err"; then
		ok=1
		break
	fi
	sleep 0.5
done
[ $ok = 1 ] && ok "connect by key from behind NAT 2 to behind NAT 1 exited 0" ||
	bad "connect through two NATs failed: $(cat "$t/connect.err")"
wait $lpid && ok "listener exited 0" || bad "listener: $(cat "$t/listen.err")"
cmp -s "$t/data" "$t/copy" && ok "2 MB arrived byte-identical" || bad "copy differs"
# Direct: the listener saw the dialer at router 2's public address (a relay
# would show the server's).
grep -q "connected to .* from 100.64.2.2:" "$t/listen.err" &&
	ok "direct path through both NATs (dialer seen at 100.64.2.2)" ||
	bad "path: $(grep connected "$t/listen.err")"

tl_end nat_server
