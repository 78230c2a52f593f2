#!/bin/sh
# cli_server.sh: a real `tryst server` process and real clients on
# loopback.  `tryst listen --server KEY@HOST:PORT --namespace N` registers;
# `tryst connect KEY --server HOST:PORT` (key learned from the server, no
# DHT, no address) reaches it and the bytes arrive intact; SIGUSR1 prints
# statistics as JSON, and --stats-interval prints them by itself with every
# field; the server is killed and restarted and the listener
# is reachable again within two keepalive periods; bad flags are usage
# errors; SIGTERM stops the server with exit 0.
set -u
TRYST=${TRYST:?set by make check}
. "$(dirname "$0")/testlib.sh"
tl_begin srv

for k in s a b; do
	"$TRYST" keygen -o "$t/$k" >"$t/$k.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
done
skey=$(cat "$t/s.key")
akey=$(cat "$t/a.key")

"$TRYST" server -i "$t/s" --listen 127.0.0.1:0 --no-dht >"$t/stats1" 2>"$t/server.err" &
spid=$!
pids="$pids $spid"
wait_for "$t/server.err" "on UDP port" 5 && ok "server started" || { bad "server: $(cat "$t/server.err")"; exit 1; }
sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)
grep -q "server $skey" "$t/server.err" && ok "server prints its key" || bad "no key printed"

# The listener registers (pinned key); keepalive 2 s for the restart test.
head -c 3000000 /dev/urandom >"$t/data"
start_listener() {
	"$TRYST" listen -i "$t/a" --bind 127.0.0.1 --no-dht -k 2 --server "$skey@127.0.0.1:$sport" \
		--namespace test </dev/null >"$t/copy$1" 2>"$t/listen$1.err" &
	lpid=$!
	pids="$pids $lpid"
}
dial() { # n: connect by key through the server (key learned from it)
	n=$1
	i=0
	while [ $i -lt 20 ]; do
		if "$TRYST" connect "$akey" -i "$t/b" --no-dht --server "127.0.0.1:$sport" -t 3 \
			<"$t/data" >/dev/null 2>"$t/connect$n.err"; then
			return 0
		fi
		i=$((i + 1))
		sleep 0.5
	done
	return 1
}
start_listener 1
s0=$(date +%s)
if dial 1; then ok "connect by key through the server exited 0"; else bad "connect: $(cat "$t/connect1.err")"; fi
wait $lpid && ok "listener exited 0" || bad "listener: $(cat "$t/listen1.err")"
cmp -s "$t/data" "$t/copy1" && ok "3 MB arrived byte-identical" || bad "copy differs"
grep -q "connected to .* from 127.0.0.1:" "$t/listen1.err" && ok "direct path" || bad "path"

# Statistics on SIGUSR1: one JSON line.
kill -USR1 $spid
wait_for "$t/stats1" "registrations" 5 && ok "SIGUSR1 prints statistics" || bad "no stats: $(cat "$t/stats1")"
grep -q '"registrations":[1-9]' "$t/stats1" && ok "the registration is counted" || bad "stats: $(cat "$t/stats1")"

# Restart: the listener binds again by itself within 2 keepalive periods.
start_listener 2
sleep 1
kill $spid
wait $spid 2>/dev/null
"$TRYST" server -i "$t/s" --listen "127.0.0.1:$sport" --no-dht >/dev/null 2>"$t/server2.err" &
spid=$!
pids="$pids $spid"
wait_for "$t/server2.err" "on UDP port" 5 || bad "restart: $(cat "$t/server2.err")"
r0=$(date +%s)
if dial 2; then
	r1=$(date +%s)
	ok "reachable again $((r1 - r0)) s after the restart"
	[ $((r1 - r0)) -le 8 ] && ok "within 2 keepalive periods (+ the dial's retry)" || bad "took $((r1 - r0)) s"
else
	bad "not reachable after the restart: $(cat "$t/connect2.err")"
fi
wait $lpid
cmp -s "$t/data" "$t/copy2" && ok "bytes intact after the restart" || bad "copy2 differs"

# A key nobody registered: a clear error within the timeout.
"$TRYST" connect "$skey" -i "$t/b" --no-dht --server "127.0.0.1:$sport" -t 2 </dev/null >/dev/null 2>"$t/none.err"
[ $? = 1 ] && ok "unknown key: exit 1" || bad "unknown key: $(cat "$t/none.err")"

# --stats-interval: a JSON line every second by itself, with every field
# operators read (doc/tryst.1, "server").
"$TRYST" server -i "$t/s" --listen 127.0.0.1:0 --no-dht --stats-interval 1 >"$t/stats3" \
	2>"$t/server3.err" &
s3=$!
pids="$pids $s3"
if wait_for "$t/stats3" "dropped" 5; then
	ok "--stats-interval prints by itself"
	line=$(head -1 "$t/stats3")
	for f in sessions keys namespaces registrations circuits memory requests expired \
		relayed_datagrams relayed_bytes malformed rate memory limit record relay_unknown \
		relay_limit; do
		echo "$line" | grep -q "\"$f\":[0-9]" || bad "stats line lacks $f: $line"
	done
	echo "$line" | grep -q '"dropped":{' && ok "stats carry every field" || bad "no dropped: $line"
	sleep 2.2
	[ "$(wc -l <"$t/stats3")" -ge 3 ] && ok "one line a second" || bad "lines: $(cat "$t/stats3")"
else
	bad "--stats-interval printed nothing: $(cat "$t/server3.err")"
fi
kill -TERM $s3
wait $s3 && ok "SIGTERM: stats server exits 0" || bad "stats server exit status"
"$TRYST" server --stats-interval 0 >/dev/null 2>&1; [ $? = 2 ] && ok "--stats-interval 0: exit 2" || bad "stats-interval 0"

# Usage errors.
"$TRYST" server --listen nowhere >/dev/null 2>&1; [ $? = 2 ] && ok "bad --listen: exit 2" || bad "--listen"
"$TRYST" server --ttl-min 100 --ttl-max 50 >/dev/null 2>&1; [ $? = 2 ] && ok "inconsistent TTLs: exit 2" || bad "ttl"
"$TRYST" server --discover-max 5000 >/dev/null 2>&1; [ $? = 2 ] && ok "--discover-max > 1000: exit 2" || bad "discover-max"
"$TRYST" connect "$akey" --server "zz@127.0.0.1:1" >/dev/null 2>&1; [ $? = 2 ] && ok "bad pinned key: exit 2" || bad "pinned key"

kill -TERM $spid
wait $spid && ok "SIGTERM: server exits 0" || bad "server exit status"

tl_end cli_server
