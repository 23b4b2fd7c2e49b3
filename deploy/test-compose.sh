#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup runs from a trap
# Runs deploy/compose.yaml with podman-compose and proves several replicas (CB-54) behind the
# TLS proxy: PostgreSQL, callbackd-1 and callbackd-2, nginx with HTTPS in front.
#  1. builds the images (the base as in deploy/test-image.sh) and starts the project;
#  2. waits for /readyz through the proxy (HTTPS, certificate checked), creates a callback;
#  3. finds the worker's leader (callbackd_worker_leader of each replica's /metrics);
#  4. kills it (SIGKILL) while a client reads through the proxy every 50 ms: every answer
#     must be 200; the other replica must lead within 5 s; a new callback is created through
#     the proxy afterwards;
#  5. prints the figures and removes the project and its volume.
# Exit status 0 when every check passed.
#
# usage: deploy/test-compose.sh
# env:   WORK (default /tmp/callbackd-image, shared with deploy/test-image.sh: the images and
#        the base are reused), BASE_IMAGE (default: the minbase of deploy/test-image.sh),
#        HTTPS_PORT (default 58443) the proxy's port on the host.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
WORK=${WORK:-/tmp/callbackd-image}
HTTPS_PORT=${HTTPS_PORT:-58443}
project=callbackd-compose-test
t_start=$SECONDS

say() { echo "test-compose: $*" >&2; }
die() {
  say "FAIL: $*"
  exit 1
}

need=()
for tool in podman runc podman-compose catatonit; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -n "${BASE_IMAGE:-}" ] || command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
# Rootful podman's default network backend (CNI) needs the dnsname plugin for service names.
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} with apt"
  sudo=()
  [ "$(id -u)" = 0 ] || sudo=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# shellcheck source=deploy/podman-sandbox.sh
. "$root/deploy/podman-sandbox.sh"

if [ -z "${BASE_IMAGE:-}" ]; then
  BASE_IMAGE=localhost/callbackd-base:bookworm
  if ! podman image exists "$BASE_IMAGE"; then
    say "making a Debian 12 minbase with mmdebstrap"
    mmdebstrap --quiet --variant=minbase --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/info/*' bookworm "$WORK/base.tar"
    podman import "$WORK/base.tar" "$BASE_IMAGE" >/dev/null
    rm -f "$WORK/base.tar"
  fi
fi

# The certificate and the secrets, as README "Deploying" makes them (the certificate in the
# compose file's own folder, deploy/compose/tls, which git ignores; kept when there).
tls=$root/deploy/compose/tls
if [ ! -s "$tls/cert.pem" ]; then
  mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost \
    -keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null
fi
chmod 644 "$tls/key.pem" # read by nginx's master (root in its container) through a bind mount
admin=$(openssl rand -hex 24)
export CALLBACKD_ADMIN_TOKEN=$admin CALLBACKD_PBX_SECRET POSTGRES_PASSWORD BASE_IMAGE
CALLBACKD_PBX_SECRET=$(openssl rand -hex 24)
POSTGRES_PASSWORD=$(openssl rand -hex 24)
export CALLBACKD_HTTPS_PORT=$HTTPS_PORT

compose() { (cd "$root/deploy" && no_timers podman-compose -p "$project" "$@"); }
remove_project() {
  # `down` races with the restart policy of a container that keeps failing: remove by label.
  compose down >/dev/null 2>&1 || true
  local ids
  ids=$(podman ps -a -q --filter "label=io.podman.compose.project=$project")
  [ -z "$ids" ] || podman rm -f -t 0 $ids >/dev/null 2>&1 || true
  podman volume rm -f "${project}_pgdata" >/dev/null 2>&1 || true
  podman network rm -f "${project}_default" >/dev/null 2>&1 || true
}
loader=""
cleanup() {
  [ -z "$loader" ] || kill "$loader" 2>/dev/null || true
  remove_project
}
trap cleanup EXIT
trap 'exit 130' INT TERM
remove_project

say "building and starting the project (base $BASE_IMAGE)"
t0=$SECONDS
compose --podman-build-args "--network host --format docker" up -d --build >"$WORK/compose-up.log" 2>&1 ||
  { tail -n 30 "$WORK/compose-up.log" >&2; die "podman-compose up failed"; }
say "up in $((SECONDS - t0)) s"

url=https://localhost:$HTTPS_PORT
tlsopts=(--cacert "$tls/cert.pem" --resolve "localhost:$HTTPS_PORT:127.0.0.1")
api() { # api METHOD PATH [BODY]: prints the status, the body goes to $WORK/answer
  curl -sS "${tlsopts[@]}" -o "$WORK/answer" -w '%{http_code}' -X "$1" "$url$2" \
    -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
ctr() { echo "${project}_$1_1"; }
t0=$SECONDS
until [ "$(curl -s "${tlsopts[@]}" -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; do
  [ $((SECONDS - t0)) -lt 60 ] || {
    for s in postgres callbackd-1 callbackd-2 proxy; do podman logs "$(ctr "$s")" 2>&1 | tail -5 >&2; done
    die "/readyz through the proxy not 200 within 60 s"
  }
  sleep 0.5
done
say "ready through the proxy (HTTPS, certificate checked) $((SECONDS - t0)) s after up"

[ "$(api PUT /v1/classes-of-service/staff '{"callbacks_allowed": true}')" = 200 ] ||
  die "PUT class of service: $(cat "$WORK/answer")"
for n in 2001 2002 2003; do
  status=$(api PUT "/v1/stations/$n" '{"kind": "ip_phone", "cos": "staff"}')
  case "$status" in 200 | 201) ;; *) die "PUT station $n: $status $(cat "$WORK/answer")" ;; esac
done
[ "$(api POST /v1/callbacks '{"requester": "2001", "target": "2002"}')" = 201 ] ||
  die "POST /v1/callbacks: $(cat "$WORK/answer")"
id=$(sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' "$WORK/answer")

leads() { # leads SERVICE: prints 1 when that replica runs the worker
  podman exec "$(ctr "$1")" curl -s http://127.0.0.1:8080/metrics 2>/dev/null |
    sed -n 's/^callbackd_worker_leader \([01]\)$/\1/p'
}
leader="" t0=$SECONDS
until [ -n "$leader" ]; do
  for s in callbackd-1 callbackd-2; do [ "$(leads "$s")" = 1 ] && leader=$s; done
  [ -n "$leader" ] || [ $((SECONDS - t0)) -lt 10 ] || die "no replica leads the worker"
  [ -n "$leader" ] || sleep 0.2
done
other=callbackd-2
[ "$leader" = callbackd-2 ] && other=callbackd-1
say "$leader leads the worker; killing it (SIGKILL) under a client reading every 50 ms"

# The client: GET the callback through the proxy every 50 ms, one status a line.
: >"$WORK/statuses"
(
  while :; do
    curl -s "${tlsopts[@]}" -o /dev/null -w '%{http_code}\n' --max-time 5 \
      -H "Authorization: Bearer $admin" "$url/v1/callbacks/$id" >>"$WORK/statuses"
    sleep 0.05
  done
) &
loader=$!
sleep 2
t_kill=$(date +%s%3N)
podman kill "$(ctr "$leader")" >/dev/null
took=""
while [ -z "$took" ]; do
  [ "$(leads "$other")" = 1 ] && took=$(($(date +%s%3N) - t_kill))
  [ -n "$took" ] || [ $(($(date +%s%3N) - t_kill)) -lt 5000 ] || die "$other does not lead 5 s after the kill"
  [ -n "$took" ] || sleep 0.1
done
sleep 5
kill "$loader" 2>/dev/null || true
wait "$loader" 2>/dev/null || true
loader=""
total=$(wc -l <"$WORK/statuses")
bad=$(grep -vc '^200$' "$WORK/statuses" || true)
[ "$total" -ge 50 ] || die "only $total requests went through during the test"
[ "$bad" = 0 ] || die "$bad of $total requests through the proxy were not 200: $(sort "$WORK/statuses" | uniq -c | tr '\n' ' ')"
[ "$(api POST /v1/callbacks '{"requester": "2003", "target": "2002"}')" = 201 ] ||
  die "POST /v1/callbacks after the kill: $(cat "$WORK/answer")"
say "after the kill: $total requests through the proxy in 7 s, all 200; $other leads the worker ${took} ms after the kill; a new callback is created"
say "all checks passed in $((SECONDS - t_start)) s"
