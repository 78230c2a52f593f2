#!/bin/sh
# cli_mesh.sh: a real `tryst server` and four `tryst mesh --json` processes
# on loopback.  Three join first, one late: every member reports
# `connected` exactly once for every other (one link per pair: only the
# smaller key dials) and `joined` for itself.  One member stopped with
# SIGTERM leaves (exit 0) and the others report `left` for it, and do not
# dial it again (it unregistered).  One killed with SIGKILL is reported
# `left` when its links time out; restarted with the same key, it is
# connected to everyone again.  A member the server refuses never
# joins and says so.  Bad flags are usage errors.
set -u
TRYST=${TRYST:?set by make check}
. "$(dirname "$0")/testlib.sh"
tl_begin mesh
# Poll until a shell condition holds (up to $2 seconds).
until_true() {
	i=0
	while ! eval "$1"; do
		i=$((i + 1))
		[ $i -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
}
# How many distinct peers member $1 reports connected (or $2 events).
count() { # member event
	grep "\"event\":\"$2\"" "$t/$1.out" 2>/dev/null | sed 's/.*"key":"\([^"]*\)".*/\1/' | sort -u | wc -l
}
# How many `event` lines of member $1 name key $3.
lines() { # member event key
	grep "\"event\":\"$2\"" "$t/$1.out" 2>/dev/null | grep -c "\"key\":\"$3\""
}

for k in s a b c d r; do
	"$TRYST" keygen -o "$t/$k" >"$t/$k.key" 2>/dev/null || { echo "keygen failed"; exit 1; }
done

"$TRYST" server -i "$t/s" --listen 127.0.0.1:0 --no-dht >/dev/null 2>"$t/server.err" &
spid=$!
pids="$pids $spid"
until_true 'grep -q "on UDP port" "$t/server.err"' 5 && ok "server started" ||
	{ bad "server: $(cat "$t/server.err")"; exit 1; }
sport=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/server.err" | head -1)

start() { # member
	"$TRYST" mesh -i "$t/$1" --bind 127.0.0.1 --no-dht --json --namespace lab \
		--server "127.0.0.1:$sport" --interval 0.2 -k 1 --idle-timeout 3 \
		>>"$t/$1.out" 2>"$t/$1.err" &
	eval "pid_$1=$!"
	pids="$pids $!"
}

# A member whose registration the server refuses (TTL under its 30 s
# minimum) never joins, and says so on stderr.
"$TRYST" -v mesh -i "$t/r" --bind 127.0.0.1 --no-dht --json --namespace refused \
	--server "127.0.0.1:$sport" --ttl 5 >"$t/r.out" 2>"$t/r.err" &
rpid=$!
pids="$pids $rpid"

start a
start b
start c
if until_true '[ $(count a connected) -ge 2 ] && [ $(count b connected) -ge 2 ] && [ $(count c connected) -ge 2 ]' 15; then
	ok "three members connected to each other"
else
	bad "first three: $(cat "$t/a.out" "$t/b.out" "$t/c.out")"
fi

# The late one meets everyone already there, and they meet it.
start d
if until_true '[ $(count a connected) = 3 ] && [ $(count b connected) = 3 ] && [ $(count c connected) = 3 ] && [ $(count d connected) = 3 ]' 15; then
	ok "the late member and the others all report connected for every other"
else
	bad "late member: $(cat "$t/d.out" "$t/d.err")"
fi
sleep 1 # time for a second link, were one dialed
for m in a b c d; do
	self=$(cat "$t/$m.key")
	[ "$(lines $m joined "$self")" = 1 ] && ok "$m: joined once, as itself" ||
		bad "$m joined: $(cat "$t/$m.out")"
	[ "$(grep -c '"event":"connected"' "$t/$m.out")" = 3 ] &&
		ok "$m: exactly one link per peer" || bad "$m links: $(cat "$t/$m.out")"
	grep -q "\"event\":\"connected\",\"key\":\"$self\"" "$t/$m.out" &&
		bad "$m connected to itself" || ok "$m: no link to itself"
	n=$(grep '"event":"connected"' "$t/$m.out" |
		grep -c '"path":"direct","addr":"127\.0\.0\.1:[0-9]*","rtt_ms":[0-9][0-9]*\.[0-9]*}$')
	[ "$n" = 3 ] && ok "$m: direct paths with address and RTT" ||
		bad "$m fields: $(cat "$t/$m.out")"
done

# SIGTERM: d leaves cleanly; the others hear it and do not dial it again.
dkey=$(cat "$t/d.key")
kill -TERM $pid_d
if wait $pid_d; then ok "SIGTERM: mesh exits 0"; else bad "mesh exit status: $(cat "$t/d.err")"; fi
if until_true '[ $(lines a left $dkey) = 1 ] && [ $(lines b left $dkey) = 1 ] && [ $(lines c left $dkey) = 1 ]' 5; then
	ok "every member reports left for the one that stopped"
else
	bad "left: $(cat "$t/a.out" "$t/b.out" "$t/c.out")"
fi
sleep 2
for m in a b c; do
	[ "$(lines $m connected "$dkey")" = 1 ] && ok "$m: does not dial the leaver again" ||
		bad "$m redialed: $(cat "$t/$m.out")"
done

# SIGKILL: no goodbye; the links time out, then it comes back.
ckey=$(cat "$t/c.key")
kill -KILL $pid_c
wait $pid_c 2>/dev/null
if until_true '[ $(lines a left $ckey) = 1 ] && [ $(lines b left $ckey) = 1 ]' 10; then
	ok "a killed member is reported left when its links time out"
else
	bad "killed: $(cat "$t/a.out" "$t/b.out")"
fi
grep "\"event\":\"left\",\"key\":\"$ckey\"" "$t/a.out" | grep -q '"reason":"[^"]' &&
	ok "left carries a reason" || bad "reason: $(cat "$t/a.out")"
: >"$t/c.out"
start c
if until_true '[ $(lines a connected $ckey) = 2 ] && [ $(lines b connected $ckey) = 2 ] && [ $(count c connected) = 2 ]' 15; then
	ok "restarted with the same key, it is connected to everyone again"
else
	bad "comeback: $(cat "$t/a.out" "$t/b.out" "$t/c.out" "$t/c.err")"
fi

if until_true 'grep -q "not in .refused. at any server yet" "$t/r.err"' 15; then
	ok "a refused registration is reported"
else
	bad "refused: $(cat "$t/r.err")"
fi
grep -q "registration in 'refused' refused: .*TTL" "$t/r.err" &&
	ok "the server's reason is shown" || bad "reason: $(cat "$t/r.err")"
grep -q '"event":"joined"' "$t/r.out" && bad "refused member joined" || ok "refused member did not join"
kill -TERM $rpid
wait $rpid && ok "refused member exits 0 on SIGTERM" || bad "refused member exit status"

# Usage errors.
"$TRYST" mesh --server "127.0.0.1:$sport" >/dev/null 2>&1
[ $? = 2 ] && ok "no --namespace: exit 2" || bad "no namespace"
"$TRYST" mesh --namespace x >/dev/null 2>&1
[ $? = 2 ] && ok "no --server: exit 2" || bad "no server"
"$TRYST" mesh --namespace x --namespace y --server "127.0.0.1:$sport" >/dev/null 2>&1
[ $? = 2 ] && ok "two namespaces: exit 2" || bad "two namespaces"
"$TRYST" mesh --namespace x --server "127.0.0.1:$sport" --interval 0 >/dev/null 2>&1
[ $? = 2 ] && ok "--interval 0: exit 2" || bad "interval"

tl_end cli_mesh
