#!/bin/sh
# run-lossy-tryst.sh: tryst's goodput through a 100 Mbit/s path with 0, 1
# and 5 % random loss between network namespaces (tests/bench/lossy-path.sh:
# tbf on a router, nftables numgen drop after it), for CUBIC and the BBR
# mode: `tryst connect < 50 MB file` into `tryst listen > /dev/null`, timed
# from the start of connect to its exit (handshake and close included).
# Root only (exit 77 otherwise).  Run from the build directory.
set -u
runs=${1:-3}
[ "$(id -u)" -eq 0 ] || exit 77
top=$(pwd)
t=$(mktemp -d /tmp/tryst-lossy.XXXXXX)
trap 'rm -rf "$t"' EXIT
"$top/src/tryst" keygen -o "$t/a" >"$t/akey" 2>/dev/null
"$top/src/tryst" keygen -o "$t/b" >/dev/null 2>&1
head -c 50000000 /dev/urandom >"$t/f"
cat >"$t/client.sh" <<EOC
#!/bin/sh
s=\$(date +%s.%N)
"$top/src/tryst" connect \$(cat "$t/akey") --addr \$1:5555 -i "$t/b" --cc \$2 <"$t/f" || exit 1
e=\$(date +%s.%N)
echo "GOODPUT \$(echo "400 / (\$e - \$s)" | bc -l | cut -c1-6) Mbit/s"
EOC
chmod +x "$t/client.sh"
for spec in "bbr 0" "bbr 1" "bbr 5" "cubic 0" "cubic 1" "cubic 5"; do
	set -- $spec
	for r in $(seq 1 "$runs"); do
		# The port is fixed: the server runs in a namespace of its own.
		bash "$top/tests/bench/lossy-path.sh" --rate 100mbit --loss "$2" -- \
			sh -c "'$top/src/tryst' listen -i '$t/a' --port 5555 --no-dht --cc $1 >/dev/null" -- \
			"$t/client.sh" @SERVER_IP@ "$1" 2>/dev/null | grep -a GOODPUT | sed "s/^/$1 loss $2% run $r: /"
	done
done
