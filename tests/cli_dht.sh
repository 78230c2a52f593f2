#!/bin/sh
# cli_dht.sh: serverless links between two tryst processes through a
# private OpenDHT network on loopback (tests/dhtnodes, its own network id):
# `tryst listen` publishes, `tryst lookup KEY` finds the record, `tryst
# connect KEY` with no address and no server reaches the listener and the
# bytes arrive intact; an unknown key fails within the timeout; `tryst
# publish` serves until SIGTERM; bad DHT options are usage errors; every
# command takes --no-dht.
set -u
TRYST=${TRYST:?set by make check}
DHTNODES=${DHTNODES:?set by make check}
NET=0x7e57c11
. "$(dirname "$0")/testlib.sh"
tl_begin dht

"$TRYST" keygen -o "$t/a" >"$t/a.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
"$TRYST" keygen -o "$t/b" >"$t/b.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
"$TRYST" keygen -o "$t/c" >"$t/c.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
akey=$(cat "$t/a.key")
ckey=$(cat "$t/c.key")

"$DHTNODES" -n 5 --network $NET >"$t/dht.ports" 2>"$t/dht.err" &
pids="$pids $!"
wait_for "$t/dht.ports" '[0-9]' 10 || { echo "dhtnodes did not start"; cat "$t/dht.err"; exit 1; }
boot="127.0.0.1:$(cut -d' ' -f1 "$t/dht.ports")"
boot2="127.0.0.1:$(cut -d' ' -f5 "$t/dht.ports")"
DHT="--bootstrap $boot --dht-network $NET"

# --- listen publishes; lookup finds it through another DHT node
head -c 5000000 /dev/urandom >"$t/data"
"$TRYST" listen -i "$t/a" --bind 127.0.0.1 $DHT </dev/null >"$t/copy" 2>"$t/listen.err" &
lpid=$!
pids="$pids $lpid"
wait_for "$t/listen.err" "published in the DHT" 10 && ok "listen says it published" ||
	bad "listen did not publish: $(cat "$t/listen.err")"
lport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/listen.err" | head -1)

found=0
for i in 1 2 3 4 5; do
	if "$TRYST" lookup "$akey" --json --bootstrap "$boot2" --dht-network $NET -t 5 \
		>"$t/lookup.json" 2>"$t/lookup.err"; then
		found=1
		break
	fi
	sleep 0.5
done
if [ $found = 1 ] && grep -q "\"key\":\"$akey\"" "$t/lookup.json" &&
	grep -q "\"addr\":\"127.0.0.1:$lport\"" "$t/lookup.json"; then
	ok "lookup --json shows the listener's key and address"
else
	bad "lookup: $(cat "$t/lookup.json" "$t/lookup.err")"
fi
"$TRYST" lookup "$akey" --bootstrap "$boot2" --dht-network $NET -t 5 >"$t/lookup.txt" 2>&1 &&
	grep -q "^candidate  host  127.0.0.1:$lport" "$t/lookup.txt" && ok "lookup prints the candidate" ||
	bad "lookup text: $(cat "$t/lookup.txt")"

# --- connect by key alone: no --addr, no server
if "$TRYST" connect "$akey" -i "$t/b" --bootstrap "$boot2" --dht-network $NET -t 15 \
	<"$t/data" >/dev/null 2>"$t/connect.err"; then
	ok "connect by key exited 0"
else
	bad "connect by key failed: $(cat "$t/connect.err")"
fi
wait $lpid && ok "listen exited 0" || bad "listen failed: $(cat "$t/listen.err")"
cmp -s "$t/data" "$t/copy" && ok "5 MB arrived byte-identical by key" || bad "copy differs"

# --- a key nobody published: a clear error within the timeout
s=$(date +%s)
"$TRYST" connect "$ckey" -i "$t/b" $DHT -t 3 </dev/null >/dev/null 2>"$t/unknown.err"
rc=$?
e=$(date +%s)
[ $rc = 1 ] && grep -q "no record of it in the DHT" "$t/unknown.err" && [ $((e - s)) -le 8 ] &&
	ok "unknown key: exit 1 in $((e - s)) s with a clear error" ||
	bad "unknown key: rc $rc after $((e - s)) s: $(cat "$t/unknown.err")"
"$TRYST" lookup "$ckey" $DHT -t 2 >/dev/null 2>"$t/unknown2.err"
[ $? = 1 ] && ok "lookup of an unknown key exits 1" || bad "lookup of unknown key"

# --- publish serves until SIGTERM, and prints its record
"$TRYST" publish -i "$t/c" --bind 127.0.0.1 --json $DHT >"$t/pub.out" 2>"$t/pub.err" &
ppid=$!
wait_for "$t/pub.out" "candidates" 10 && ok "publish printed its record" || bad "publish: $(cat "$t/pub.err")"
found=0
for i in 1 2 3 4 5; do
	"$TRYST" lookup "$ckey" --bootstrap "$boot2" --dht-network $NET -t 5 >/dev/null 2>&1 && { found=1; break; }
	sleep 0.5
done
[ $found = 1 ] && ok "a published key is found" || bad "published key not found"
kill -TERM $ppid
wait $ppid && ok "publish exits 0 on SIGTERM" || bad "publish exit status"

# --- usage errors, and --no-dht everywhere
"$TRYST" lookup "$akey" --bootstrap nowhere >/dev/null 2>&1
[ $? = 2 ] && ok "unresolvable --bootstrap is a usage error" || bad "bad --bootstrap"
"$TRYST" lookup "$akey" --dht-network x12 >/dev/null 2>&1
[ $? = 2 ] && ok "bad --dht-network is a usage error" || bad "bad --dht-network"
"$TRYST" connect "$akey" --no-dht </dev/null >/dev/null 2>&1
[ $? = 2 ] && ok "connect --no-dht without --addr is a usage error" || bad "connect --no-dht"
"$TRYST" id -i "$t/a" --no-dht >/dev/null && "$TRYST" keygen -o "$t/d" --no-dht >/dev/null 2>&1 &&
	ok "id and keygen accept --no-dht" || bad "--no-dht refused"

tl_end cli_dht
