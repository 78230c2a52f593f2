#!/bin/sh
# exports.sh: the shared library exports tryst_* names and nothing else,
# and every function the header declares is exported.
set -u
lib=${TRYST_LIB:?set by make check}
top=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/testlib.sh"
tl_begin exports

if ! command -v nm >/dev/null; then echo "nm not found"; exit 77; fi
syms=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort)
[ -n "$syms" ] && ok "library exports symbols" || bad "no symbols in $lib"
others=$(printf '%s\n' "$syms" | grep -v '^tryst_' || true)
[ -z "$others" ] && ok "only tryst_ names exported" || bad "non-tryst exports: $others"
# Every function declared TRYST_EXPORT in the public header is there.
for f in $(grep -o 'TRYST_EXPORT [^(]*tryst_[a-z0-9_]*(' "$top/include/tryst.h" | sed 's/.*[ *]\(tryst_[a-z0-9_]*\)(/\1/'); do
	printf '%s\n' "$syms" | grep -qx "$f" && ok "exports $f" || bad "missing export $f"
done
tl_end exports
