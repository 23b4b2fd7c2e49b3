#!/usr/bin/env bash
# The fault soaks (tests/soak/README.md), one after another: each prints its figures and a
# "RESULT name PASS|FAIL" line; this script ends with one line per soak and exits non-zero when
# one failed.
#
# usage: tests/soak/run.sh [--short]
#   --short   the CI version (tests/run.sh): 5 kills, one PostgreSQL restart of each kind under
#             load and one in a quiet spell, the PBX down 10 s, 2 leader kills; under 2 minutes
#             on 2 cores
#   default   20 kills, 2 restarts of each kind under load and 2 in a quiet spell (3 s down),
#             the PBX down 10 minutes, 5 leader kills
# Environment: CALLBACKD_BIN (default build/callbackd), PYTHON (default /usr/bin/python3: the
# harness needs Debian's python3-yaml and python3-jsonschema), CALLBACKD_TEST_PG_URL (and _DIR,
# _PORT, as tests/run.sh exports them): the cluster for the soaks that do not restart PostgreSQL
# (else each makes a private one), SOAK_SEED: one seed for every soak (default: each draws one
# and prints it).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
py=${PYTHON:-/usr/bin/python3}
export CALLBACKD_BIN=${CALLBACKD_BIN:-$root/build/callbackd}
[ -x "$CALLBACKD_BIN" ] || { echo "soak: $CALLBACKD_BIN not built" >&2; exit 2; }

short=0
case "${1:-}" in
  --short) short=1 ;;
  "") ;;
  *) echo "usage: $0 [--short]" >&2; exit 2 ;;
esac

seed=()
[ -n "${SOAK_SEED:-}" ] && seed=(--seed "$SOAK_SEED")

results=()
failed=0
t_all=$SECONDS
soak() { # soak NAME ARGS...
  local name=$1 t0=$SECONDS rc
  shift
  "$py" "$here/$name.py" "$@" "${seed[@]}"
  rc=$?
  if [ $rc -eq 0 ]; then
    results+=("PASS  $name ($((SECONDS - t0)) s)")
  else
    results+=("FAIL  $name ($((SECONDS - t0)) s, exit $rc)")
    failed=$((failed + 1))
  fi
  echo
}

if [ $short -eq 1 ]; then
  soak kill9 --kills 5 --gap 0.2 1.5
  soak pg_restart --fast 1 --immediate 1 --quiet 1 --down-s 2 --gap 1 2
  soak pbx_down --pbx-down-s 10 --lead-s 1 --tail-s 1
  soak takeover --kills 2 --gap 1 2
else
  soak kill9 --kills 20
  soak pg_restart --fast 2 --immediate 2 --quiet 2 --down-s 3
  soak pbx_down --pbx-down-s 600
  soak takeover --kills 5
fi

printf '%s\n' "${results[@]}"
echo "soaks: $((${#results[@]} - failed)) passed, $failed failed, $((SECONDS - t_all)) s"
[ $failed -eq 0 ]
