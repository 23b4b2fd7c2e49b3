#!/usr/bin/env bash
# The rules core's purity check (service/core/check_purity.sh) passes on the core as built, and
# refuses a copy of the core with one impure change each: a service header included, a C
# library header that reaches the outside world, a call to the clock, a call to the log.
#
#   core_purity_check.sh CORE_SOURCE_DIR LIBCB_CORE CC
set -euo pipefail
src=$1 lib=$2 cc=$3
check=$src/check_purity.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

expect() { # expect pass|fail WHAT ARGS...
  local want=$1 what=$2 got=pass
  shift 2
  bash "$check" "$@" 2>"$work/err" || got=fail
  if [ "$got" = "$want" ]; then
    echo "ok: $what ($got)"
  else
    echo "FAILED: $what: expected $want, got $got" >&2
    cat "$work/err" >&2
    failures=$((failures + 1))
  fi
}

expect pass "the core as built" "$src" "$lib"

copy() { rm -rf "$work/core" && mkdir "$work/core" && cp "$src"/*.c "$src"/*.h "$work/core/"; }
first=$(ls "$src"/*.c | head -n 1)
name=$(basename "$first")

copy
sed -i '1i #include "service/log.h"' "$work/core/$name"
expect fail "a service header included" "$work/core" "$lib"

copy
sed -i '1i #include <time.h>' "$work/core/$name"
expect fail "<time.h> included" "$work/core" "$lib"

copy
sed -i '1i #include "service/core/no_such.h"' "$work/core/$name"
expect fail "a core header that does not exist" "$work/core" "$lib"

printf '%s\n' '#include <stdlib.h>' 'long long now_ms(void);' \
  'long long now_ms(void) { return (long long)time(0) * 1000; }' >"$work/clock.c"
"$cc" -c -w -o "$work/clock.o" "$work/clock.c"
expect fail "a call to time()" "$src" "$lib" "$work/clock.o"

printf '%s\n' 'void cb_logf(int, const char *, ...);' 'void f(void);' \
  'void f(void) { cb_logf(3, "decided"); }' >"$work/log.c"
"$cc" -c -o "$work/log.o" "$work/log.c"
expect fail "a call to the service's log" "$src" "$lib" "$work/log.o"

[ "$failures" -eq 0 ]
