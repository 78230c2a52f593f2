# testlib.sh: what the shell tests share; they source it.
#
#   tl_begin NAME     make the scratch directory $t and clean up on exit:
#                     kill the pids in $pids, run tl_extra_cleanup if the
#                     test defines it, remove $t
#   ok MSG, bad MSG   count a passed or failed check and print it
#   wait_for FILE PATTERN SECONDS
#                     wait until PATTERN appears in FILE; 1 on timeout
#   tl_end NAME       print the tally; the exit status says whether all passed
pass=0 fail=0 pids=
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

wait_for() {
	_tl_w=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		_tl_w=$((_tl_w + 1))
		[ $_tl_w -gt $(($3 * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

tl_cleanup() {
	for _tl_p in $pids; do kill "$_tl_p" 2>/dev/null; done
	# The test's own cleanup (the NAT lab's) kills what it started, before
	# anything waits for it.
	command -v tl_extra_cleanup >/dev/null 2>&1 && tl_extra_cleanup
	wait 2>/dev/null
	rm -rf "$t"
}

tl_begin() {
	t=$(mktemp -d "/tmp/tryst-$1.XXXXXX")
	trap tl_cleanup EXIT
	trap 'exit 130' INT TERM
}

tl_end() {
	echo "$1: $pass passed, $fail failed"
	[ $fail = 0 ]
}
