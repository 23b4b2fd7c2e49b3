#!/usr/bin/env bash
# A private PostgreSQL cluster under one directory, for the quickstart and the tests.
#
# usage: deploy/pg-cluster.sh start  DIR [PORT]   create if needed, start, print the URL on stdout
#        deploy/pg-cluster.sh stop   DIR [MODE]   stop it if it runs: MODE fast (the default:
#                                                 clients cut off, a checkpoint) or immediate
#                                                 (no checkpoint: crash recovery at the next start)
#        deploy/pg-cluster.sh status DIR          exit 0 when it runs
#        deploy/pg-cluster.sh url    DIR          print the URL of the last start
#
# Layout: DIR/data (the cluster), DIR/log (server log), DIR/port, and the Unix socket in DIR
# (in /tmp when DIR is too long a path for a socket). Clients use TCP on 127.0.0.1.
# PostgreSQL refuses to run as root: as root, every server command runs as the `postgres` user
# (runuser) and DIR is owned by postgres, so DIR's parents must be traversable by postgres.
# As any other user the cluster runs as that user.
# The port is PORT, else the one of the last start, else 54329; a port in use is skipped
# (the next free one is taken) unless PG_PORT_STRICT=1. PG_FAST=1 at creation turns off
# durability (fsync and friends) for throwaway test clusters.
set -euo pipefail

cmd=${1:?usage: pg-cluster.sh start|stop|status|url DIR [PORT|MODE]}
dir=${2:?usage: pg-cluster.sh start|stop|status|url DIR [PORT|MODE]}

# An absolute DIR, then work from / (the postgres user may not be allowed into the caller's cwd).
case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
cd /

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pgbin" ] && command -v pg_config >/dev/null 2>&1; then
  pgbin=$(pg_config --bindir)
fi
[ -x "$pgbin/pg_ctl" ] || { echo "pg-cluster: PostgreSQL server binaries not found" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

url_for() { echo "postgresql://postgres@127.0.0.1:$1/postgres"; }

running() { [ -f "$dir/data/PG_VERSION" ] && as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; }

create() {
  if [ "$(id -u)" = 0 ]; then
    install -d -o postgres -g postgres -m 700 "$dir"
  else
    install -d -m 700 "$dir"
  fi
  dir=$(cd "$dir" && pwd -P)
  if ! as_pg test -x "$dir"; then
    echo "pg-cluster: the postgres user cannot reach $dir (a parent directory is closed)" >&2
    exit 1
  fi
  [ -f "$dir/data/PG_VERSION" ] && return 0
  as_pg "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --no-locale --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  if [ "${PG_FAST:-0}" = 1 ]; then
    as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<'CONF'
# throwaway test cluster (PG_FAST=1)
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
CONF
  fi
}

case "$cmd" in
  start)
    create
    if running; then
      echo "pg-cluster: already running in $dir" >&2
      url_for "$(cat "$dir/port")"
      exit 0
    fi
    port=${3:-$(cat "$dir/port" 2>/dev/null || echo 54329)}
    # The Unix socket goes in DIR, unless its path would be too long for a socket (108 bytes).
    sockdir=$dir
    [ ${#dir} -gt 90 ] && sockdir=/tmp
    for _ in $(seq 1 50); do
      if ! port_in_use "$port"; then
        if as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
          -o "-c listen_addresses=127.0.0.1 -p $port -k '$sockdir'" start >/dev/null; then
          echo "$port" >"$dir/port"
          url_for "$port"
          exit 0
        fi
        # Lost a race for the port to another process? Then try the next one.
        tail -n 5 "$dir/log" >&2 || true
      fi
      if [ "${PG_PORT_STRICT:-0}" = 1 ]; then
        echo "pg-cluster: port $port is in use" >&2
        exit 1
      fi
      port=$((port + 1))
    done
    echo "pg-cluster: no free port found" >&2
    exit 1
    ;;
  stop)
    mode=${3:-fast}
    case "$mode" in fast | immediate) ;; *)
      echo "pg-cluster: unknown stop mode $mode (fast or immediate)" >&2
      exit 2
      ;;
    esac
    if running; then
      as_pg "$pgbin/pg_ctl" -D "$dir/data" -m "$mode" -w -t 60 stop >/dev/null
    fi
    ;;
  status)
    running
    ;;
  url)
    url_for "$(cat "$dir/port")"
    ;;
  *)
    echo "pg-cluster: unknown command $cmd" >&2
    exit 2
    ;;
esac
