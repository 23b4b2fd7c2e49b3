#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run through run_step / traps
# The whole check, as CI runs it (bash .ci/run): installs what is missing, starts a private
# PostgreSQL in a temporary directory, builds twice (build/: normal, build-asan/: ASan+UBSan),
# runs ctest (unit + end-to-end) in both, the short fault soaks (tests/soak/run.sh --short)
# against build/, the fuzz regression (tests/fuzz/run.sh: build-fuzz/ with clang, each
# libFuzzer target on its seed corpus plus FUZZ_SECONDS of new inputs), the deployment files
# (tests/deploy/check.sh), then tests/lint-openapi.sh when present.
# Everything it started is stopped on exit, failure or Ctrl-C. Exit status 0 only when every
# step passed; the last line is "N passed, M failed" over the steps.
# Environment: CTEST_JOBS (default 4: e2e tests mostly wait on timers and I/O) = tests run at once; CTEST_ARGS = extra ctest arguments
# (e.g. "-L unit" or "-R foundation"); SOAK=0 leaves the fault soaks out; FUZZ_SECONDS (default
# 20) = new inputs per fuzz target.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
jobs=${CTEST_JOBS:-4}
start_time=$SECONDS
passed=0
failed=0
summary=()

run_step() { # run_step NAME COMMAND...: runs one step, records its outcome and time
  local name=$1 t0=$SECONDS rc
  shift
  echo "==> $name" >&2
  "$@"
  rc=$?
  if [ $rc -eq 0 ]; then
    passed=$((passed + 1))
    summary+=("PASS  $name ($((SECONDS - t0)) s)")
  else
    failed=$((failed + 1))
    summary+=("FAIL  $name ($((SECONDS - t0)) s, exit $rc)")
  fi
  return $rc
}

skip_step() { # skip_step NAME WHY: a step that could not run counts as failed
  failed=$((failed + 1))
  summary+=("FAIL  $1 (not run: $2)")
}

pgdir=""
cleanup() {
  if [ -n "$pgdir" ]; then
    bash "$root/deploy/pg-cluster.sh" stop "$pgdir/pg" >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

finish() {
  echo >&2
  printf '%s\n' "${summary[@]}" >&2
  echo "total $((SECONDS - start_time)) s" >&2
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if ! run_step "install dependencies" bash "$root/deploy/install-deps.sh"; then
  finish
fi

start_cluster() {
  pgdir=$(mktemp -d /tmp/callbackd-tests.XXXXXX) || return 1
  chmod 711 "$pgdir" # PostgreSQL runs as postgres and must reach $pgdir/pg
  local url
  url=$(PG_FAST=1 bash "$root/deploy/pg-cluster.sh" start "$pgdir/pg" 25432) || return 1
  export CALLBACKD_TEST_PG_URL=$url
  export CALLBACKD_TEST_PG_DIR=$pgdir/pg
  CALLBACKD_TEST_PG_PORT=$(cat "$pgdir/pg/port")
  export CALLBACKD_TEST_PG_PORT
  echo "PostgreSQL for the tests: $url" >&2
}
run_step "start PostgreSQL" start_cluster

build() { # build DIR CMAKE-ARGS...
  local dir=$1
  shift
  cmake -S "$root" -B "$root/$dir" "$@" >/dev/null && cmake --build "$root/$dir" -j "$(nproc)"
}

ctest_in() { # ctest_in DIR: the unit and end-to-end tests of one build
  # shellcheck disable=SC2086
  ctest --test-dir "$root/$1" --output-on-failure -j "$jobs" ${CTEST_ARGS:-}
}

built=0
run_step "build (build/)" build build && built=1
built_asan=0
run_step "build with sanitizers (build-asan/)" build build-asan -DCALLBACKD_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=Debug && built_asan=1

if [ $built -eq 1 ]; then
  run_step "ctest (build/)" ctest_in build
else
  skip_step "ctest (build/)" "build failed"
fi

# The fault soaks, short version (tests/soak/README.md): kill -9 under load, PostgreSQL restarts,
# the PBX away, a leader killed beside a standby; nothing acknowledged lost, nothing twice.
if [ "${SOAK:-1}" = 0 ]; then
  echo "==> fault soaks skipped (SOAK=0)" >&2
elif [ $built -eq 1 ]; then
  run_step "fault soaks, short (tests/soak)" env CALLBACKD_BIN="$root/build/callbackd" \
    bash "$root/tests/soak/run.sh" --short
else
  skip_step "fault soaks, short (tests/soak)" "build failed"
fi

if [ $built_asan -eq 1 ]; then
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_step "ctest with sanitizers (build-asan/)" ctest_in build-asan
else
  skip_step "ctest with sanitizers (build-asan/)" "build failed"
fi

run_step "fuzz regression (build-fuzz/)" bash "$root/tests/fuzz/run.sh" \
  --seconds "${FUZZ_SECONDS:-20}"

# The deployment files, offline (tests/deploy/check.sh): the systemd unit's analyses and the
# README's installation steps, the Kubernetes manifests' schema, the compose file's schema.
if [ $built -eq 1 ]; then
  run_step "deployment files (tests/deploy)" env CALLBACKD_BIN="$root/build/callbackd" \
    bash "$root/tests/deploy/check.sh"
else
  skip_step "deployment files (tests/deploy)" "build failed"
fi

if [ -f "$root/tests/lint-openapi.sh" ]; then
  run_step "OpenAPI lint" bash "$root/tests/lint-openapi.sh"
fi

finish
