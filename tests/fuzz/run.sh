#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, CALLBACKD_FUZZ=ON: ASan + UBSan) and runs
# each on a copy of its seed corpus (tests/fuzz/corpus/<target>): every seed once, then new
# inputs until N seconds have passed. Prints, per target, the inputs executed, the new corpus
# units, the crashes and the CPU seconds used; exits 1 when any target crashed, leaked, hung or
# ran out of memory, leaving each such input in <build>/crashes/<target>/ (reproduce with
# `<build>/tests/fuzz/fuzz_<target> <that file>`). tests/run.sh runs it with the defaults.
#
# usage: tests/fuzz/run.sh [--seconds N] [--jobs J] [--resume] [--merge] [--build-dir DIR]
#                          [TARGET...]
#   --seconds N    new inputs for N seconds per target (default 20: the regression run)
#   --jobs J       targets fuzzed at once, one process each (default 1)
#   --resume       start from the corpus the previous run grew (plus the seeds), not the seeds
#   --merge        afterwards, add to tests/fuzz/corpus/<target> the inputs of this run that
#                  reach code the seeds do not (libFuzzer -merge=1); review before committing
#   --build-dir D  where to build and work (default build-fuzz/ at the repository's root)
#   TARGET         events, bodies, cursor, signature, config, dialed, router (default: all)
# Every run appends one line per target to <build>/history.tsv (date, target, seconds,
# executions, new units, crashes, CPU seconds): the sum of the last column is the fuzzing done.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=20
jobs=1
merge=0
resume=0
build=$root/build-fuzz
targets=()

usage() {
  sed -n '9,17p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=${2:-}; shift 2 || usage ;;
    --jobs) jobs=${2:-}; shift 2 || usage ;;
    --resume) resume=1; shift ;;
    --merge) merge=1; shift ;;
    --build-dir) build=${2:-}; shift 2 || usage ;;
    -h | --help) usage ;;
    -*) echo "fuzz: unknown option $1" >&2; usage ;;
    *) targets+=("${1#fuzz_}"); shift ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ && $jobs =~ ^[1-9][0-9]*$ && -n $build ]] || usage
mkdir -p "$build" && build=$(cd "$build" && pwd) || exit 2

all=()
for src in "$here"/fuzz_*.c; do
  name=$(basename "$src" .c)
  all+=("${name#fuzz_}")
done
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  if [ ! -f "$here/fuzz_$t.c" ]; then
    echo "fuzz: no target $t (there are: ${all[*]})" >&2
    exit 2
  fi
done

if ! command -v clang >/dev/null 2>&1; then
  echo "fuzz: clang is missing (deploy/install-deps.sh installs it)" >&2
  exit 2
fi
echo "fuzz: building the targets in $build" >&2
if ! { cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DCALLBACKD_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  cmake --build "$build" -j "$(nproc)" --target fuzz_targets >/dev/null; }; then
  echo "fuzz: the build failed" >&2
  exit 2
fi

# The sanitizers stop at the first finding; libFuzzer then keeps the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fuzz_one() { # fuzz_one TARGET: runs it; writes its results line to $build/work/TARGET/result
  local t=$1 bin="$build/tests/fuzz/fuzz_$1" work="$build/work/$1" crashes="$build/crashes/$1"
  local dict=() rc before execs
  [ $resume -eq 1 ] || rm -rf "$work"
  rm -rf "$crashes"
  mkdir -p "$work/corpus" "$crashes"
  cp -n "$here/corpus/$t"/* "$work/corpus/" 2>/dev/null
  before=$(find "$work/corpus" -type f | wc -l)
  [ -f "$here/dict/$t.dict" ] && dict=("-dict=$here/dict/$t.dict")
  local TIMEFORMAT='%U %S'
  { time "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "${dict[@]}" "$work/corpus" >"$work/log" 2>&1; } 2>"$work/time"
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$work/log" | tail -1 | tr -d '#')
  local found
  found=$(find "$crashes" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | wc -l)
  [ $rc -ne 0 ] && [ "$found" -eq 0 ] && found=1 # a failure libFuzzer kept no input for
  local cpu
  cpu=$(awk '{printf "%.1f", $1 + $2}' "$work/time")
  echo "${execs:-0} $(($(find "$work/corpus" -type f | wc -l) - before)) $found $cpu $rc" \
    >"$work/result"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$seconds" "${execs:-0}" \
    "$(($(find "$work/corpus" -type f | wc -l) - before))" "$found" "$cpu" >>"$build/history.tsv"
}

echo "fuzz: ${#targets[@]} targets, $seconds s each, $jobs at a time" >&2
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait

failed=0
total_cpu=0
printf '%-10s %12s %6s %8s %8s\n' target executions new crashes "CPU s"
for t in "${targets[@]}"; do
  read -r execs new found cpu rc <"$build/work/$t/result"
  printf '%-10s %12s %6s %8s %8s\n' "$t" "$execs" "$new" "$found" "$cpu"
  total_cpu=$(awk -v a="$total_cpu" -v b="$cpu" 'BEGIN {printf "%.1f", a + b}')
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "  FAILED (exit $rc); log: $build/work/$t/log" >&2
    grep -E '^(SUMMARY|fuzz_|fixture_world)|ERROR: ' "$build/work/$t/log" | head -5 | sed 's/^/  /' >&2
    find "$build/crashes/$t" -type f | sed 's/^/  input: /' >&2
  fi
done
echo "CPU seconds in all: $total_cpu (history: $build/history.tsv)"

if [ $merge -eq 1 ]; then
  for t in "${targets[@]}"; do
    n0=$(find "$here/corpus/$t" -type f | wc -l)
    # Edges only (no hit counts): the fewest inputs that reach code the seeds do not.
    "$build/tests/fuzz/fuzz_$t" -merge=1 -use_counters=0 "$here/corpus/$t" "$build/work/$t/corpus" \
      >"$build/work/$t/merge.log" 2>&1 || echo "fuzz: merge of $t failed" >&2
    n1=$(find "$here/corpus/$t" -type f | wc -l)
    echo "merged into tests/fuzz/corpus/$t: $((n1 - n0)) new inputs ($n1 in all)"
    [ "$n1" -le 40 ] || echo "  that is more than the few dozen to commit: keep the best" >&2
  done
fi
exit $failed
