#!/bin/sh
# nat_relay.sh (NAT lab): the relay of last resort through two symmetric
# NATs.  A public segment holds `tryst server`; both private segments sit
# behind routers that map every destination to a new random port
# (MASQUERADE --random-fully) and drop unsolicited inbound packets, so
# direct punching cannot work.  `tryst connect KEY --server ...` still
# reaches `tryst listen --server ...`: after the punching window it opens a
# relay circuit through the server, the bytes arrive intact both ways, and
# both ends report the path as relayed through the server.  The same with
# home NATs meets directly (as tests/nat_server.sh shows in more detail).
# A server with a small relay byte limit ends such a transfer, and both
# commands print why.
# Needs root and iptables; reports SKIP (77) otherwise.
set -u
TRYST=${TRYST:?set by make check}
here=$(dirname "$0")
. "$here/testlib.sh"
. "$here/natlab/natlab.sh"
nl_require
tl_extra_cleanup() { nl_cleanup; }
tl_begin natrly
nl_setup || { echo "cannot build the NAT lab"; exit 1; }
nl_nat 1 random
nl_nat 2 random

for k in s a b; do "$TRYST" keygen -o "$t/$k" >"$t/$k.key" 2>/dev/null; done
skey=$(cat "$t/s.key")
akey=$(cat "$t/a.key")
head -c 2000000 /dev/urandom >"$t/data"
head -c 1000000 /dev/urandom >"$t/back"
BACK=$t/back
export BACK

nl_bg pub "$t/stats" "$t/server.err" "$TRYST" server -i "$t/s" --listen 100.64.1.1:0 --no-dht \
	--stats-interval 1
spid=$NL_LAST
wait_for "$t/server.err" "on UDP port" 5 || { echo "server did not start: $(cat "$t/server.err")"; exit 1; }
sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)
srv="$skey@100.64.1.1:$sport"

# connect: data -> listener (copy); listener: back -> connect (copy_back).
run_pair() { # tag
	# (a background command's stdin is /dev/null unless redirected in it)
	nl_bg a "$t/copy$1" "$t/listen$1.err" sh -c 'exec "$0" "$@" <"$BACK"' "$TRYST" listen \
		-i "$t/a" --no-dht --server "$srv" --namespace lab
	lpid=$NL_LAST
	sleep 1
	ok=0
	tries=${2:-5}
	for i in $(seq 1 "$tries"); do
		if nl_run b "$TRYST" -v connect "$akey" -i "$t/b" --no-dht --server "$srv" -t 10 \
			<"$t/data" >"$t/back$1" 2>"$t/connect$1.err"; then
			ok=1
			break
		fi
		sleep 0.5
	done
	wait $lpid
	lrc=$?
}

run_pair 1
[ $ok = 1 ] && ok "symmetric NATs: connect by key exited 0" ||
	bad "connect through two symmetric NATs failed: $(cat "$t/connect1.err")"
[ $lrc = 0 ] && ok "listener exited 0" || bad "listener: $(cat "$t/listen1.err")"
cmp -s "$t/data" "$t/copy1" && ok "2 MB arrived byte-identical at the listener" || bad "copy differs"
cmp -s "$t/back" "$t/back1" && ok "1 MB arrived byte-identical at the dialer" || bad "back differs"
grep -q "connected to .* relayed through 100.64.1.1:$sport" "$t/listen1.err" &&
	ok "the listener reports the relay" || bad "listener path: $(grep connected "$t/listen1.err")"
grep -q "connected in .* relayed through 100.64.1.1:$sport" "$t/connect1.err" &&
	ok "the dialer reports the relay" || bad "dialer path: $(grep connected "$t/connect1.err")"
grep -q "no direct path yet; asking for a relay" "$t/connect1.err" &&
	ok "the relay came after direct punching" || bad "no fallback message"
# The server relayed at least the 3 MB both ways (its statistics).
sleep 1.5
rb=$(sed -n 's/.*"relayed_bytes":\([0-9]*\).*/\1/p' "$t/stats" | tail -1)
[ "${rb:-0}" -ge 3000000 ] && ok "the server relayed $rb bytes" || bad "relayed_bytes ${rb:-none}"

# The relay's limit: a server that relays 500 kB per circuit ends the
# transfer, and both ends say why.
nl_bg pub /dev/null "$t/server2.err" "$TRYST" server -i "$t/s" --listen 100.64.1.1:0 --no-dht \
	--relay-max-bytes 500000
wait_for "$t/server2.err" "on UDP port" 5 || { echo "server 2: $(cat "$t/server2.err")"; exit 1; }
sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server2.err" | head -1)
srv="$skey@100.64.1.1:$sport"
run_pair 3 1
[ $ok = 0 ] && [ $lrc != 0 ] && ok "at the relay limit both ends fail" ||
	bad "limit: connect ok=$ok, listener $lrc"
msg="relay circuit closed: the server's byte limit is reached"
grep -q "$msg" "$t/connect3.err" && ok "the dialer prints the reason" ||
	bad "dialer: $(tail -3 "$t/connect3.err")"
grep -q "$msg" "$t/listen3.err" && ok "the listener prints the reason" ||
	bad "listener: $(tail -3 "$t/listen3.err")"

# Home NATs: the same commands meet directly, no relay.
nl_nat 1 home
nl_nat 2 home
run_pair 2
[ $ok = 1 ] && ok "home NATs: connect exited 0" || bad "home NATs: $(cat "$t/connect2.err")"
cmp -s "$t/data" "$t/copy2" && cmp -s "$t/back" "$t/back2" &&
	ok "home NATs: bytes intact both ways" || bad "home NATs: copies differ"
grep -q "connected in .* direct from 100.64.1.2:" "$t/connect2.err" &&
	ok "home NATs: direct path" || bad "home NATs path: $(grep connected "$t/connect2.err")"

tl_end nat_relay
