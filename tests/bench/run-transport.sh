#!/bin/sh
# run-transport.sh: the transport benchmark side by side in one run (issue 3,
# doc/BENCHMARKS.md): tryst's library path (bench_transport, 1 GiB, one
# stream) at its default path-MTU ceiling and at 1452-byte datagrams, the
# CLI pipe path (tryst connect < file into tryst listen | cmp), the raw UDP
# ceiling and kernel TCP, each --runs times, interleaved, so the rows of one
# run share the machine's state.  Run from the build directory.
#
#   run-transport.sh [--runs N] [--old BUILDDIR]
#
# --old runs every tryst row a second time, right after the first, with the
# programs of another build directory (an older commit built elsewhere),
# labelled "old": before-and-after figures from the same moments.
set -eu
runs=3
old=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--old) old=$2; shift 2 ;;
	*) echo "usage: run-transport.sh [--runs N] [--old BUILDDIR]" >&2; exit 2 ;;
	esac
done
b=tests/bench
t=$(mktemp -d /tmp/tryst-bench.XXXXXX)
trap 'rm -rf "$t"' EXIT
head -c 1073741824 /dev/zero | tr '\0' 'x' >"$t/file" 2>/dev/null || head -c 1073741824 /dev/urandom >"$t/file"
src/tryst keygen -o "$t/a" >"$t/akey" 2>/dev/null
src/tryst keygen -o "$t/b" >/dev/null 2>&1
# cli_pipe: the CLI pipe path with the src/tryst of the current directory
# (cli_old runs it in the old build directory)
cli_pipe() {
	src/tryst listen -i "$t/a" --bind 127.0.0.1 --no-dht </dev/null 2>"$t/l.err" | cmp - "$t/file" &
	lp=$!
	port=
	while [ -z "$port" ]; do sleep 0.05; port=$(sed -n 's/.*on UDP port \([0-9]*\).*/\1/p' "$t/l.err"); done
	s=$(date +%s.%N)
	src/tryst connect "$(cat "$t/akey")" --addr "127.0.0.1:$port" -i "$t/b" <"$t/file" >/dev/null
	wait $lp
	e=$(date +%s.%N)
	echo "${label:-}tryst CLI pipe: 1024 MiB in $(echo "$e - $s" | bc) s = $(echo "1073.741824 / ($e - $s)" | bc) MB/s"
}
cli_old() {
	(cd "$old" && label="old " && cli_pipe)
}
# both ARGS...: a bench_transport row with this build, then with the old one
both() {
	$b/bench_transport "$@"
	if [ -n "$old" ]; then echo "old $("$old/$b/bench_transport" "$@")"; fi
}
for i in $(seq 1 "$runs"); do
	echo "--- run $i"
	both --bytes 1073741824
	both --bytes 1073741824 --mtu 1452
	both --bytes 1073741824 --cc bbr
	: >"$t/l.err" # no port of a listener that has gone
	cli_pipe
	: >"$t/l.err"
	if [ -n "$old" ]; then cli_old; fi
	$b/udp_blast --mode mmsg --size 1200 --bytes 1G | tail -1
	$b/udp_blast --mode gso --size 1200 --bytes 4G | tail -1
	$b/tcp_blast --bytes 4G | tail -1
done
