#!/usr/bin/env bash
# The scale benchmark: "every decision costs the same at 1,000 or 1,000,000 callbacks".
# A benchmark, never part of ctest. See tests/bench/README.md.
#
# usage: tests/bench/run.sh [--pending N] [--seconds S] [--compare-small] [--scales N1,N2,...]
#                           [--rate R] [--load-only] [--keep]
#
#   --pending N      active (pending) callbacks to load, and as many ended ones (default 1000)
#   --seconds S      length of each timed run: pgbench, wrk, events (default 5)
#   --compare-small  also run at 1,000 first, in the same invocation, and compare (flat: 1.3x)
#   --scales LIST    the scales to run, comma-separated (e.g. 1000,1000000); overrides the above
#   --rate R         events/s of the event -> command latency run (default 1000); it runs again
#                    at R/4 and R/2, and at R from one connection batching, shown without a target
#   --load-only      build, start PostgreSQL, load the largest scale, print the load time, stop
#   --keep           keep the work directory (logs, results) under /tmp at the end
#
# It builds a Release callbackd in build-bench/, starts its own PostgreSQL cluster (production
# durability: fsync, synchronous_commit and full_page_writes on) on a free port of 127.0.0.1,
# loads a fresh database per scale (`callbackd migrate`, a bulk load of the world), then runs
# each measure at every scale in turn: pgbench, wrk POST /v1/callbacks, the PBX side (event ->
# command latency, events accepted, applied), callbackd's RSS; then prints one table.
# Everything it starts is stopped by PID at the end, on failure and on Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
helper=$here/scale.py

pending=1000
seconds=5
compare_small=0
scales=""
rate=1000
load_only=0
keep=0
post_cap_rate=20000 # POST pool: pairs for this many requests/s over --seconds

usage() { sed -n '5,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --pending) pending=${2:?}; shift 2 ;;
    --seconds) seconds=${2:?}; shift 2 ;;
    --compare-small) compare_small=1; shift ;;
    --scales) scales=${2:?}; shift 2 ;;
    --rate) rate=${2:?}; shift 2 ;;
    --load-only) load_only=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown option $1" >&2; usage ;;
  esac
done
for v in "$pending" "$seconds" "$rate"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: $v is not a positive integer" >&2; exit 2; }
done
if [ -z "$scales" ]; then
  if [ "$compare_small" = 1 ] && [ "$pending" != 1000 ]; then
    scales="1000,$pending"
  else
    scales=$pending
  fi
fi
IFS=, read -r -a scale_list <<<"$scales"
for v in "${scale_list[@]}"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: bad scale $v" >&2; exit 2; }
done
if [ "$load_only" = 1 ]; then
  scale_list=("${scale_list[-1]}")
fi
"$root/deploy/install-deps.sh" # wrk and pgbench too, on a fresh machine
for tool in cmake psql pgbench wrk; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 2; }
done

work=$(mktemp -d /tmp/callbackd-bench.XXXXXX)
chmod 755 "$work" # the postgres user must reach the cluster under it
results=$work/results.tsv
pbx_log=$work/pbx.log
: >"$results"
: >"$pbx_log"
admin_token="bench-admin-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
pbx_secret="bench-pbx-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
svc_pid=""
rss_pid=""
pbx_pid=""
pg_started=0
ok=0

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

stop_pid() { # PID [seconds]: SIGTERM, then SIGKILL after the grace period
  local pid=$1 grace=${2:-30} i
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: PID $pid did not stop in ${grace} s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  stop_pid "$svc_pid" 30
  stop_pid "$rss_pid" 2
  stop_pid "$pbx_pid" 5
  if [ "$pg_started" = 1 ]; then
    "$root/deploy/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1
  fi
  rm -rf "$work/pg"
  if [ "$ok" = 1 ] && [ "$keep" = 0 ]; then
    rm -rf "$work"
  else
    echo "run.sh: logs and results kept in $work" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- build ---------------------------------------------------------------------------------
log "building Release callbackd, the event sender and the fake PBX in build-bench/"
if ! { cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release &&
  cmake --build "$root/build-bench" -j2 --target callbackd bench_event_load bench_fake_pbx; } >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  exit 1
fi
bin=$root/build-bench/callbackd
sender=$root/build-bench/tests/bench_event_load # the event sender of the accepted and latency runs (event_load.c)
fake_pbx=$root/build-bench/tests/bench_fake_pbx # the PBX (fake_pbx.c)

# --- PostgreSQL ----------------------------------------------------------------------------
pg_conf=(
  "shared_buffers = '2GB'" "effective_cache_size = '12GB'" "maintenance_work_mem = '1GB'"
  "work_mem = '16MB'" "wal_buffers = '16MB'" "max_wal_size = '8GB'" "min_wal_size = '1GB'"
  "checkpoint_timeout = '15min'" "checkpoint_completion_target = 0.9"
  "random_page_cost = 1.1" "max_connections = 200"
  "fsync = on" "synchronous_commit = on" "full_page_writes = on" "wal_level = replica"
  "track_wal_io_timing = on" # how long each WAL flush took (scale.py WalDisk)
)
pg_port=$("$py" "$helper" free-port)
pg_started=1
url0=$("$root/deploy/pg-cluster.sh" start "$work/pg" "$pg_port")
pg_port=$(cat "$work/pg/port")
for setting in "${pg_conf[@]}"; do
  psql -X -q -d "$url0" -v ON_ERROR_STOP=1 -c "ALTER SYSTEM SET ${setting/ = / TO }" >/dev/null
done
"$root/deploy/pg-cluster.sh" stop "$work/pg"
url0=$("$root/deploy/pg-cluster.sh" start "$work/pg" "$pg_port")
pg_port=$(cat "$work/pg/port")
pg_show=$(psql -X -A -t -d "$url0" -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name)
  FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers',
  'effective_cache_size', 'max_wal_size', 'checkpoint_timeout', 'wal_level', 'max_connections')")
for must in fsync=on synchronous_commit=on full_page_writes=on; do
  [[ " $pg_show " == *" $must "* ]] || { echo "run.sh: PostgreSQL is not durable ($must): $pg_show" >&2; exit 1; }
done
log "PostgreSQL $(psql -X -A -t -d "$url0" -c 'SHOW server_version') on 127.0.0.1:$pg_port, production durability"
log "  $pg_show"

# --- the fake PBX --------------------------------------------------------------------------
pbx_port=$("$py" "$helper" free-port)
"$fake_pbx" "$pbx_port" "$pbx_log" 2>"$work/pbx.err" &
pbx_pid=$!

# --- callbackd -----------------------------------------------------------------------------
svc_port=""
db_url=""
current_scale=""
svc_start() {
  svc_port=$("$py" "$helper" free-port)
  CALLBACKD_DATABASE_URL=$db_url CALLBACKD_ADMIN_TOKEN=$admin_token CALLBACKD_PBX_SECRET=$pbx_secret \
    CALLBACKD_LISTEN=127.0.0.1:$svc_port CALLBACKD_PBX_COMMAND_URL=http://127.0.0.1:$pbx_port/commands \
    CALLBACKD_LOG_LEVEL=warn "$bin" serve >>"$work/callbackd.$current_scale.log" 2>&1 &
  svc_pid=$!
  rss_watch "$svc_pid" "$work/rss.$current_scale" &
  rss_pid=$!
  "$py" "$helper" wait-ready --port "$svc_port" --timeout 120
}
svc_stop() {
  stop_pid "$svc_pid" 30
  svc_pid=""
  stop_pid "$rss_pid" 2
  rss_pid=""
}
rss_watch() { # PID FILE: the largest VmRSS (kB) of PID, sampled every 0.1 s, kept in FILE
  local pid=$1 file=$2 max=0 v
  [ -s "$file" ] && max=$(cat "$file")
  while [ -r "/proc/$pid/status" ]; do
    v=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$v" ] && [ "$v" -gt "$max" ]; then
      max=$v
      echo "$max" >"$file"
    fi
    sleep 0.1
  done
}
drain_or_discard() { # PHASE TIMEOUT: wait for a quiet worker; else stop, discard the backlog, restart
  if ! "$py" "$helper" drain --url "$db_url" --timeout "$2"; then
    svc_stop
    "$py" "$helper" discard --url "$db_url" --results "$results" --scale "$current_scale" --phase "$1"
    svc_start
  fi
}

# --- every scale loaded, then each measure at every scale in turn ------------------------------
# This VM's speed moves within minutes (the same run gave a latency p50 of 44 ms and 120 ms
# within the hour), so the scales are not measured one after the other: both databases are
# loaded first, then each measure runs at every scale before the next measure, and a change of
# the machine's speed falls on the runs it compares alike.
drain_s=$((seconds * 4 > 30 ? seconds * 4 : 30))
apply_s=$((seconds * 6 > 60 ? seconds * 6 : 60))
pool=$((post_cap_rate * seconds))
use_scale() { # N: the database (and logs) the next steps use
  current_scale=$1
  db_url=${url0%/postgres}/bench_$1
}
wal_ready() { # WHAT: recycled WAL segments ready ahead of the next runs (scale.py cmd_wal)
  log "WAL: recycled segments ready ahead $1"
  "$py" "$helper" wal --url "$url0" --workdir "$work"
}
for n in "${scale_list[@]}"; do
  use_scale "$n"
  log "=== N = $n pending + $n ended callbacks: loading (INSERT ... SELECT generate_series, one transaction, indexes rebuilt in bulk) ==="
  PGOPTIONS='-c client_min_messages=warning' psql -X -q -d "$url0" -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS bench_$n" -c "CREATE DATABASE bench_$n" >/dev/null
  CALLBACKD_DATABASE_URL=$db_url CALLBACKD_ADMIN_TOKEN=$admin_token CALLBACKD_PBX_SECRET=$pbx_secret \
    "$bin" migrate >>"$work/callbackd.$n.log" 2>&1
  load_args=(--url "$db_url" --results "$results" --pending "$n" --pool "$pool")
  [ "$load_only" = 1 ] && load_args+=(--no-copy)
  "$py" "$helper" load "${load_args[@]}"
  if [ "$load_only" = 1 ]; then
    ok=1
    exit 0
  fi
done

# The WAL as a running server has it: segments ready ahead, so that no run stalls every commit
# while a new segment file is created and zero-filled (scale.py cmd_wal).
wal_ready "(as after a running server's checkpoints)"

for n in "${scale_list[@]}"; do
  use_scale "$n"
  log "N = $n: pgbench, one INSERT ... RETURNING into callbacks_copy"
  "$py" "$helper" pgbench --url "$db_url" --results "$results" --pending "$n" --seconds "$seconds" \
    --workdir "$work"
done

for c in 4 16; do
  for n in "${scale_list[@]}"; do
    use_scale "$n"
    svc_start
    log "N = $n: wrk: POST /v1/callbacks, $c connections"
    "$py" "$helper" wrk --url "$db_url" --results "$results" --pending "$n" --port "$svc_port" \
      --seconds "$seconds" --token "$admin_token" --pool "$pool" --conns "$c"
    svc_stop
    "$py" "$helper" cleanup --url "$db_url" # the POSTed callbacks go: the next run starts at N
  done
done

# The PBX side (the fake PBX acknowledging every command at once).
wal_ready "for the event -> command runs"
for n in "${scale_list[@]}"; do
  use_scale "$n"
  svc_start
  log "N = $n: event -> command latency at $rate events/s"
  drain_or_discard start "$drain_s"
  # Warm-up (not reported), as pgbench has one: the same events for 2 s, so that the measured
  # run does not pay alone for the first touch of the hot pages after the load's checkpoint
  # (their full-page images in the WAL), nor for cold plans and connections.
  "$py" "$helper" latency --url "$db_url" --results "$work/warmup.tsv" --pending "$n" \
    --port "$svc_port" --secret "$pbx_secret" --seconds 2 --rate "$rate" --timeout "$drain_s" \
    --pbx-log "$pbx_log" --sender "$sender" >/dev/null
  drain_or_discard warmup "$drain_s"
  "$py" "$helper" latency --url "$db_url" --results "$results" --pending "$n" --port "$svc_port" \
    --secret "$pbx_secret" --seconds "$seconds" --rate "$rate" --timeout "$drain_s" --pbx-log "$pbx_log" --sender "$sender"
  drain_or_discard latency "$drain_s"
  # The same at a quarter and at half the rate (shown, no target): how the latency follows the
  # load of the machine, which at --rate runs the PBX's side, callbackd and PostgreSQL at once.
  for r in $((rate / 4)) $((rate / 2)); do
    [ "$r" -ge 20 ] || continue
    log "N = $n: event -> command latency at $r events/s"
    "$py" "$helper" latency --url "$db_url" --results "$results" --pending "$n" --port "$svc_port" \
      --secret "$pbx_secret" --seconds "$seconds" --rate "$r" --timeout "$drain_s" \
      --pbx-log "$pbx_log" --sender "$sender" --key "latency_at_$r"
    drain_or_discard "latency_at_$r" "$drain_s"
  done
  # And at --rate from a PBX that sends on one connection each webhook as soon as the last one
  # is answered, with every event fallen due meanwhile (shown, no target): what batching at the
  # source would change.
  log "N = $n: event -> command latency at $rate events/s, one connection batching what fell due"
  "$py" "$helper" latency --url "$db_url" --results "$results" --pending "$n" --port "$svc_port" \
    --secret "$pbx_secret" --seconds "$seconds" --rate "$rate" --timeout "$drain_s" \
    --pbx-log "$pbx_log" --sender "$sender" --stream --key latency_stream
  drain_or_discard latency_stream "$drain_s"
  svc_stop
done

wal_ready "for the accepted runs"
for n in "${scale_list[@]}"; do
  use_scale "$n"
  svc_start
  log "N = $n: events accepted"
  drain_or_discard start "$drain_s"
  "$py" "$helper" accept --url "$db_url" --results "$results" --pending "$n" --port "$svc_port" \
    --secret "$pbx_secret" --seconds "$seconds" --sender "$sender"
  drain_or_discard accepted "$drain_s"
  svc_stop
done

wal_ready "for the applied runs"
for spread in hot all; do # the same 20 targets at every N, then every loaded target
  key=applied
  [ "$spread" = all ] && key=applied_spread
  for n in "${scale_list[@]}"; do
    use_scale "$n"
    svc_start
    log "N = $n: events applied ($([ "$spread" = all ] && echo "every target" || echo "20 targets"))"
    drain_or_discard start "$drain_s"
    if "$py" "$helper" apply --url "$db_url" --results "$results" --pending "$n" --port "$svc_port" \
      --secret "$pbx_secret" --events $((10000 * seconds)) --timeout "$apply_s" \
      --targets "$([ "$spread" = all ] && echo all || echo 20)" --key "$key" --sender "$sender"; then
      drain_or_discard "$key" "$drain_s"
      svc_stop
    else # the backlog goes with callbackd; the next run's start drains what is left
      svc_stop
      "$py" "$helper" discard --url "$db_url" --results "$results" --scale "$n" --phase "$key"
    fi
  done
done

"$py" "$helper" wal --url "$url0" --workdir "$work" --ahead 0

for n in "${scale_list[@]}"; do
  rss_kb=$(cat "$work/rss.$n" 2>/dev/null || echo 0)
  printf '%s\trss_mib\t%s\n' "$n" "$(awk -v k="$rss_kb" 'BEGIN {printf "%.1f", k / 1024}')" >>"$results"
  log "N = $n: callbackd RSS max $((rss_kb / 1024)) MiB"
  psql -X -q -d "$url0" -c "DROP DATABASE bench_$n" >/dev/null
done

echo
echo "callbackd scale benchmark: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "(working tree may differ), Release build, $(nproc) CPUs, ${seconds} s per run;" \
  "PostgreSQL with fsync/synchronous_commit/full_page_writes on, shared_buffers 2GB"
"$py" "$helper" report --results "$results"
ok=1
