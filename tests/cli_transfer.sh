#!/bin/sh
# cli_transfer.sh: two tryst processes on loopback: `tryst connect KEY
# --addr ... < file` into `tryst listen > copy` gives a byte-identical copy,
# both ways at once; a wrong key or nobody listening fails within the
# timeout; a bad key is a usage error.
set -u
TRYST=${TRYST:?set by make check}
. "$(dirname "$0")/testlib.sh"
tl_begin xfer

"$TRYST" keygen -o "$t/a" >"$t/a.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
"$TRYST" keygen -o "$t/b" >"$t/b.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
akey=$(cat "$t/a.key")
bkey=$(cat "$t/b.key")
head -c 50000000 /dev/urandom >"$t/big"
head -c 3000000 /dev/urandom >"$t/back"

# start_listener: runs tryst listen in the background, waits for its port
start_listener() {
	"$TRYST" listen -i "$t/a" --bind 127.0.0.1 --no-dht "$@" <"$t/back" >"$t/copy" 2>"$t/listen.err" &
	lpid=$!
	pids="$pids $lpid"
	port=
	for _ in $(seq 1 100); do
		port=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/listen.err")
		[ -n "$port" ] && break
		sleep 0.05
	done
	[ -n "$port" ] || { bad "listener did not start"; cat "$t/listen.err"; }
}

# --- a file each way, through two processes ---
start_listener
start=$(date +%s)
if "$TRYST" connect "$akey" --addr "127.0.0.1:$port" -i "$t/b" <"$t/big" >"$t/back.copy" 2>"$t/connect.err"; then
	ok "connect exited 0"
else
	bad "connect failed"; sed 's/^/  | /' "$t/connect.err"
fi
if wait "$lpid"; then ok "listen exited 0"; else bad "listen failed"; sed 's/^/  | /' "$t/listen.err"; fi
cmp -s "$t/big" "$t/copy" && ok "50 MB arrived byte-identical" || bad "copy differs ($(wc -c <"$t/copy") bytes)"
cmp -s "$t/back" "$t/back.copy" && ok "3 MB came back byte-identical" || bad "reverse copy differs"
grep -q "connected to $bkey" "$t/listen.err" && ok "listener saw the dialer's key" || bad "no key in listen output"
echo "transfer took $(($(date +%s) - start)) s"

# --- through a pipe into cmp, as the README shows ---
"$TRYST" listen -i "$t/a" --bind 127.0.0.1 --no-dht </dev/null 2>"$t/listen2.err" | cmp - "$t/big" >"$t/cmp.out" 2>&1 &
lpid=$!
pids="$pids $lpid"
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/listen2.err")
	[ -n "$port" ] && break
	sleep 0.05
done
if cat "$t/big" | "$TRYST" connect "$akey" --addr "127.0.0.1:$port" -i "$t/b" >/dev/null 2>"$t/connect2.err"; then
	ok "connect from a pipe exited 0"
else
	bad "connect from a pipe failed"; sed 's/^/  | /' "$t/connect2.err"
fi
if wait "$lpid"; then ok "listen | cmp matched"; else bad "listen | cmp: $(cat "$t/cmp.out")"; fi

# --- the allow list refuses others ---
start_listener --allow "$akey"
s0=$(date +%s)
"$TRYST" connect "$akey" --addr "127.0.0.1:$port" -i "$t/b" -t 2 </dev/null >/dev/null 2>"$t/refused.err"
rc=$?
[ $rc -eq 1 ] && ok "a key not on --allow is refused (exit 1)" || bad "refused dial exit $rc"
grep -q "no answer from" "$t/refused.err" && ok "refusal explained" || bad "$(cat "$t/refused.err")"
kill "$lpid" 2>/dev/null

# --- wrong key, nobody there, bad key ---
start_listener
"$TRYST" connect "$bkey" --addr "127.0.0.1:$port" -i "$t/b" -t 2 </dev/null >/dev/null 2>"$t/wrong.err"
rc=$?
[ $rc -eq 1 ] && ok "wrong key: exit 1" || bad "wrong key exit $rc"
grep -q "another key" "$t/wrong.err" && ok "wrong key explained" || bad "$(cat "$t/wrong.err")"
[ $(($(date +%s) - s0)) -le 8 ] && ok "failures came within the timeout" || bad "too slow"
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
"$TRYST" connect "$akey" --addr "127.0.0.1:$port" -i "$t/b" -t 1 </dev/null >/dev/null 2>"$t/none.err"
[ $? -eq 1 ] && ok "nobody listening: exit 1" || bad "nobody listening"
"$TRYST" connect "${akey%?}" --addr "127.0.0.1:1" -i "$t/b" </dev/null >/dev/null 2>"$t/badkey.err"
[ $? -eq 2 ] && ok "truncated key: usage error" || bad "truncated key accepted"
grep -q "56 characters" "$t/badkey.err" && ok "truncated key explained" || bad "$(cat "$t/badkey.err")"
"$TRYST" connect "$akey" --addr "nowhere" -i "$t/b" </dev/null >/dev/null 2>/dev/null
[ $? -eq 2 ] && ok "bad address: usage error" || bad "bad address accepted"
# Without --addr a key is found through the DHT or a server; with neither
# there is nothing to dial.
"$TRYST" connect "$akey" -i "$t/b" --no-dht </dev/null >/dev/null 2>/dev/null
[ $? -eq 2 ] && ok "no address, no DHT, no server: usage error" || bad "no address accepted"

tl_end cli_transfer
