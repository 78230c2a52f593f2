#!/bin/sh
# cli_identity.sh: tryst keygen / id / demo / --help / --version, run as a
# user would, including every bad key file the issue lists.
set -u
TRYST=${TRYST:?set by make check}
. "$(dirname "$0")/testlib.sh"
tl_begin cli
# expect STATUS DESCRIPTION -- COMMAND...: run, keep stdout/stderr in $t/out, $t/err
expect() {
	want=$1 what=$2
	shift 3
	"$@" >"$t/out" 2>"$t/err"
	got=$?
	if [ "$got" -eq "$want" ]; then ok "$what"; else
		bad "$what: exit $got, wanted $want"; sed 's/^/  | /' "$t/err"; fi
}
has() { # has FILE TEXT DESCRIPTION
	if grep -q -- "$2" "$1"; then ok "$3"; else bad "$3: no '$2' in:"; sed 's/^/  | /' "$1"; fi
}
mode() { stat -c %a "$1"; }

# --- keygen and id ---
expect 0 "keygen -o" -- "$TRYST" keygen -o "$t/id1"
key1=$(cat "$t/out")
[ ${#key1} -eq 56 ] && ok "key is 56 characters" || bad "key '$key1' is not 56 characters"
has "$t/err" "$t/id1" "keygen says where it wrote"
[ "$(mode "$t/id1")" = 600 ] && ok "key file mode 600" || bad "mode $(mode "$t/id1")"
expect 0 "id -i" -- "$TRYST" id -i "$t/id1"
[ "$(cat "$t/out")" = "$key1" ] && ok "id prints the keygen key" || bad "id printed $(cat "$t/out")"
expect 0 "id --identity" -- "$TRYST" id --identity "$t/id1"
[ "$(cat "$t/out")" = "$key1" ] && ok "--identity works too" || bad "--identity"
expect 0 "id --json" -- "$TRYST" id -i "$t/id1" --json
[ "$(cat "$t/out")" = "{\"key\":\"$key1\"}" ] && ok "id --json" || bad "json: $(cat "$t/out")"

cp "$t/id1" "$t/id1.orig"
expect 1 "keygen refuses to overwrite" -- "$TRYST" keygen -o "$t/id1"
has "$t/err" "already exists" "overwrite refusal says why"
has "$t/err" "\-\-force" "overwrite refusal names --force"
cmp -s "$t/id1" "$t/id1.orig" && ok "existing key untouched" || bad "existing key changed"
expect 0 "keygen --force" -- "$TRYST" keygen -o "$t/id1" --force
[ "$(cat "$t/out")" != "$key1" ] && ok "--force made a new key" || bad "--force kept the key"
expect 0 "keygen --json" -- "$TRYST" keygen -o "$t/id2" --json
grep -Eq '^\{"key":"[a-z0-9]{56}","file":".*id2"\}$' "$t/out" && ok "keygen --json" ||
	bad "keygen --json: $(cat "$t/out")"

# default location under XDG_CONFIG_HOME, directories created 0700
expect 0 "keygen default path" -- env XDG_CONFIG_HOME="$t/xdg" "$TRYST" keygen
key3=$(cat "$t/out")
[ -f "$t/xdg/tryst/identity" ] && ok "default file created" || bad "no default file"
[ "$(mode "$t/xdg/tryst")" = 700 ] && ok "config dir mode 700" || bad "dir mode $(mode "$t/xdg/tryst")"
expect 0 "id default path" -- env XDG_CONFIG_HOME="$t/xdg" "$TRYST" id
[ "$(cat "$t/out")" = "$key3" ] && ok "id finds the default identity" || bad "default id"
expect 1 "id without any identity" -- env XDG_CONFIG_HOME="$t/none" "$TRYST" id
has "$t/err" "tryst keygen" "missing identity suggests keygen"

# --- bad key files: error names the file and the problem, exit 1 ---
cp "$t/id2" "$t/ro" && chmod 644 "$t/ro"
expect 1 "world-readable key refused" -- "$TRYST" id -i "$t/ro"
has "$t/err" "chmod 600 '$t/ro'" "refusal gives the chmod that fixes it"
chmod 640 "$t/ro"
expect 1 "group-readable key refused" -- "$TRYST" id -i "$t/ro"
head -c 100 "$t/id2" >"$t/trunc" && chmod 600 "$t/trunc"
expect 1 "truncated key file" -- "$TRYST" id -i "$t/trunc"
has "$t/err" "$t/trunc: identity file has the wrong size" "truncation named with the file"
: >"$t/empty" && chmod 600 "$t/empty"
expect 1 "empty key file" -- "$TRYST" id -i "$t/empty"
has "$t/err" "wrong size" "empty file reported as wrong size"
{ cat "$t/id2"; echo extra; } >"$t/long" && chmod 600 "$t/long"
expect 1 "oversized key file" -- "$TRYST" id -i "$t/long"
sed 's/^secret \(.\)/secret X/' "$t/id2" >"$t/corrupt" && chmod 600 "$t/corrupt"
expect 1 "corrupt key file" -- "$TRYST" id -i "$t/corrupt"
has "$t/err" "$t/corrupt: not a tryst identity file, or corrupt" "corruption named with the file"
# secret changed to other valid hex: the stored public key no longer matches
awk 'NR==2{c=substr($2,1,1); $2=(c=="0"?"1":"0") substr($2,2)} {print}' "$t/id2" >"$t/mismatch"
chmod 600 "$t/mismatch"
expect 1 "mismatching key file" -- "$TRYST" id -i "$t/mismatch"
has "$t/err" "does not match" "mismatch reported"
head -c 154 /dev/urandom >"$t/random" && chmod 600 "$t/random"
expect 1 "random bytes as key file" -- "$TRYST" id -i "$t/random"
expect 1 "missing key file" -- "$TRYST" id -i "$t/nope"
has "$t/err" "$t/nope: No such file" "missing file named"
expect 1 "directory as key file" -- "$TRYST" id -i "$t"
has "$t/err" "Is a directory" "directory reported"
cp "$t/id2" "$t/id2.orig"
expect 1 "keygen into an unwritable place" -- "$TRYST" keygen -o /proc/tryst-no/identity
cmp -s "$t/id2" "$t/id2.orig" && ok "failed commands lost nothing" || bad "a key changed"

# --- help, version, usage errors ---
for c in keygen id demo; do
	expect 0 "$c --help" -- "$TRYST" "$c" --help
	has "$t/out" "Usage: tryst $c" "$c --help prints usage on stdout"
	expect 0 "$c --version" -- "$TRYST" "$c" --version
	expect 2 "$c with an unknown option" -- "$TRYST" "$c" --bogus
	expect 0 "help $c" -- "$TRYST" help "$c"
done
expect 0 "--help" -- "$TRYST" --help
has "$t/out" "keygen" "--help lists commands"
expect 0 "--version" -- "$TRYST" --version
grep -Eq '^tryst [0-9]+\.[0-9]+\.[0-9]+$' "$t/out" && ok "--version format" || bad "version: $(cat "$t/out")"
expect 2 "no command" -- "$TRYST"
expect 2 "unknown command" -- "$TRYST" frobnicate
has "$t/err" "unknown command 'frobnicate'" "unknown command named"
expect 2 "stray argument" -- "$TRYST" id extra

# --- the demo ---
expect 0 "demo" -- "$TRYST" demo
has "$t/out" "demo: ok" "demo reports success"
has "$t/out" "contains her key: no" "demo shows the sealed value hides the key"

tl_end cli
