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
#        HTTPS_PORT (default 58443, the next free one when taken) the proxy's port on the host.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
WORK=${WORK:-/tmp/callbackd-image}
HTTPS_PORT=${HTTPS_PORT:-58443}
project=callbackd-compose-test
t_start=$SECONDS

me=test-compose
# shellcheck source=deploy/podman-test-lib.sh
. "$root/deploy/podman-test-lib.sh"

need=()
for tool in podman runc podman-compose catatonit; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -n "${BASE_IMAGE:-}" ] || command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
# Rootful podman's default network backend (CNI) needs the dnsname plugin for service names.
[ -x /usr/lib/cni/dnsname ] || need+=(golang-github-containernetworking-plugin-dnsname)
install_missing "${need[@]}"
use_podman_sandbox
ensure_base

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
HTTPS_PORT=$(free_port "$HTTPS_PORT")
export CALLBACKD_HTTPS_PORT=$HTTPS_PORT

compose() { (cd "$root/deploy" && no_timers podman-compose -p "$project" "$@"); }
remove_project() {
  # `down` races with the restart policy of a container that keeps failing: remove by label.
  compose down >/dev/null 2>&1 || true
  local ids
  mapfile -t ids < <(podman ps -a -q --filter "label=io.podman.compose.project=$project")
  [ ${#ids[@]} -eq 0 ] || podman rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || true
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
curl_opts=(--cacert "$tls/cert.pem" --resolve "localhost:$HTTPS_PORT:127.0.0.1")
ctr() { echo "${project}_$1_1"; }
wait_ready "$(ctr proxy)" "$url" "${curl_opts[@]}"
say "ready through the proxy (HTTPS, the certificate checked)"

create_callback 2001 2002

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
    curl -s "${curl_opts[@]}" -o /dev/null -w '%{http_code}\n' --max-time 5 \
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
create_callback 2003 2002 # through the survivor
say "after the kill: $total requests through the proxy in 7 s, all 200; $other leads the worker ${took} ms after the kill; a new callback is created"
say "all checks passed in $((SECONDS - t_start)) s"
