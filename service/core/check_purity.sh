#!/usr/bin/env bash
# The rules core stays pure: state in, decisions out, no I/O, no clock, no logging, nothing of
# the service around it. Run after every build of the cb_core library (CMakeLists.txt), so a
# core file that breaks the rule fails the build:
#
#   check_purity.sh SOURCE_DIR ARCHIVE_OR_OBJECT...
#
# 1. Includes: every #include in SOURCE_DIR/*.c and *.h names a C standard library header
#    (<string.h>, ...) or one of SOURCE_DIR's own headers ("service/core/x.h").
# 2. Symbols: every function the objects call and do not define themselves is one of the pure
#    C library functions below (memory, strings, formatting into a buffer, sorting, abort), or
#    the sanitizers' and the stack protector's hooks. A call to time(), printf(), fopen(),
#    getenv() or a function of the service (cb_log, ...) is refused.
#
# Prints each offence and exits 1 when there is one.
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 SOURCE_DIR ARCHIVE_OR_OBJECT..." >&2; exit 2; }
src=$1
shift

# C11's standard headers, less those that reach the outside world (<time.h>, <signal.h>,
# <locale.h>, <threads.h>) or need a floating-point environment (<fenv.h>).
c_headers=" assert.h complex.h ctype.h errno.h float.h inttypes.h iso646.h limits.h math.h
  stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h stdint.h stdio.h stdlib.h stdnoreturn.h
  string.h tgmath.h uchar.h wchar.h wctype.h "

# Pure functions of the C library: no I/O, no clock, no environment, no randomness.
allowed=" abort bsearch calloc free malloc memchr memcmp memcpy memmove memset qsort realloc
  snprintf strchr strcmp strcspn strlen strncmp strncpy strnlen strrchr strspn strstr strtol
  strtoll strtoul strtoull vsnprintf "

in_list() { # in_list WORD LIST: whether WORD is one of LIST's words
  local w
  for w in $2; do [ "$w" = "$1" ] && return 0; done
  return 1
}

fail=0
offence() {
  echo "core purity: $*" >&2
  fail=1
}

for f in "$src"/*.c "$src"/*.h; do
  [ -e "$f" ] || continue
  while IFS= read -r line; do
    inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*//' <<<"$line")
    case "$inc" in
      \<*\>)
        h=${inc#<}
        h=${h%%>*}
        in_list "$h" "$c_headers" \
          || offence "$(basename "$f") includes <$h>, not a C library header the core may use"
        ;;
      \"service/core/*\"*)
        h=${inc#\"service/core/}
        h=${h%%\"*}
        [ -f "$src/$h" ] || offence "$(basename "$f") includes \"service/core/$h\", which does not exist"
        ;;
      *) offence "$(basename "$f") includes $inc: only C library headers and the core's own" ;;
    esac
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done

defined=$(nm --defined-only --format=just-symbols "$@" 2>/dev/null | sort -u)
while IFS= read -r sym; do
  [ -n "$sym" ] || continue
  grep -qxF "$sym" <<<"$defined" && continue
  base=${sym#__}
  base=${base%_chk} # _FORTIFY_SOURCE's checked variants (__snprintf_chk, ...)
  case "$sym" in
    __asan_* | __ubsan_* | __sanitizer_* | __sancov_* | __start___sancov_* | __stop___sancov_* | __stack_chk_fail \
      | _GLOBAL_OFFSET_TABLE_) continue ;;
  esac
  in_list "$sym" "$allowed" || in_list "$base" "$allowed" \
    || offence "the core calls $sym, which is not a pure C library function"
done < <(nm --undefined-only --format=just-symbols "$@" 2>/dev/null | sort -u)

exit $fail
