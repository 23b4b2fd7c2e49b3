# shellcheck shell=bash
# Sourced by deploy/test-image.sh, test-compose.sh and test-systemd.sh, which set `root` (the
# repository), `WORK` (podman's storage and the scripts' files) and `me` (the name in messages).

: "${root:?}" "${WORK:?}" "${me:?}"

say() { echo "$me: $*" >&2; }
die() {
  say "FAIL: $*"
  exit 1
}

install_missing() { # install_missing PACKAGE...: installs them with apt (sudo unless root)
  [ $# -gt 0 ] || return 0
  say "installing $* with apt"
  local sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

# podman with a configuration and a storage of its own under $WORK, as a sandboxed machine
# needs it: storage driver vfs (works on any filesystem, also inside a container), runc,
# cgroupfs, no default ulimits (setting rlimits may be refused). The Containerfiles and the
# compose file do not depend on any of it.
use_podman_sandbox() {
  mkdir -p "$WORK"
  chmod 711 "$WORK" # the postgres user of a host cluster reaches WORK/pg
  cat >"$WORK/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  cat >"$WORK/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$WORK/storage"
runroot = "$WORK/run"
CONF
  export CONTAINERS_CONF=$WORK/containers.conf CONTAINERS_STORAGE_CONF=$WORK/storage.conf
}

# Without systemd, podman says on each start and stop that it cannot time the health checks;
# the tests run the checks themselves, so that complaint is filtered out.
no_timers() { "$@" 2> >(grep -v 'systemd connection' >&2); }

# Sets BASE_IMAGE: the one given, else a Debian 12 minbase made from Debian's package archive
# with mmdebstrap (docs, man pages and locales left out, as in debian:12-slim), imported once.
ensure_base() {
  [ -z "${BASE_IMAGE:-}" ] || return 0
  BASE_IMAGE=localhost/callbackd-base:bookworm
  podman image exists "$BASE_IMAGE" && return 0
  say "making a Debian 12 minbase with mmdebstrap"
  local t0=$SECONDS
  mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/info/*' bookworm "$WORK/base.tar"
  podman import "$WORK/base.tar" "$BASE_IMAGE" >/dev/null
  rm -f "$WORK/base.tar"
  say "base made in $((SECONDS - t0)) s"
}

wait_ready() { # wait_ready CONTAINER URL [CURL-OPTION...]: URL/readyz 200 within 60 s
  local ctr=$1 url=$2 t0=$SECONDS
  shift 2
  until [ "$(curl -s "$@" -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; do
    [ "$(podman inspect --format '{{.State.Running}}' "$ctr")" = true ] ||
      { podman logs "$ctr" 2>&1 | tail -n 20 >&2; die "$ctr exited"; }
    [ $((SECONDS - t0)) -lt 60 ] ||
      { podman logs "$ctr" 2>&1 | tail -n 20 >&2; die "$url/readyz not 200 within 60 s"; }
    sleep 0.2
  done
  say "$url/readyz 200 $((SECONDS - t0)) s after start"
}

# shellcheck disable=SC2154 # url, admin and curl_opts are the sourcing script's
api() { # api METHOD PATH [BODY]: the status on stdout, the body in $WORK/answer
  # ($url, $admin, and the array curl_opts, e.g. the proxy's certificate)
  curl -sS "${curl_opts[@]}" -o "$WORK/answer" -w '%{http_code}' -X "$1" "$url$2" \
    -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

create_callback() { # create_callback REQUESTER TARGET: both stations provisioned, the callback
  # set and read back through the API; its id in $id
  [ "$(api PUT /v1/classes-of-service/staff '{"callbacks_allowed": true}')" = 200 ] ||
    die "PUT class of service: $(cat "$WORK/answer")"
  local n status
  for n in "$1" "$2"; do
    status=$(api PUT "/v1/stations/$n" '{"kind": "ip_phone", "cos": "staff"}')
    case "$status" in 200 | 201) ;; *) die "PUT station $n: $status $(cat "$WORK/answer")" ;; esac
  done
  status=$(api POST /v1/callbacks "{\"requester\": \"$1\", \"target\": \"$2\"}")
  [ "$status" = 201 ] || die "POST /v1/callbacks: $status $(cat "$WORK/answer")"
  id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$WORK/answer")
  [ -n "$id" ] || die "no id in $(cat "$WORK/answer")"
  [ "$(api GET "/v1/callbacks/$id")" = 200 ] || die "GET /v1/callbacks/$id: $(cat "$WORK/answer")"
}

free_port() { # free_port PORT: PORT, or the next one nobody listens on (loopback)
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}
