#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup runs from a trap
# Runs deploy/callbackd.service under a real systemd: a Debian 12 container booting systemd
# (podman --systemd=always, its own network), with PostgreSQL 15 from Debian in it.
#  1. builds that image (the base as in deploy/test-image.sh) with the binary under test;
#  2. boots it, runs the README's systemd installation steps unchanged (its first sh block
#     under "### systemd", from a copy of the repository files they use), creates the database
#     role and writes its URL into the database_url credential;
#  3. checks the service: active, /readyz 200 over HTTPS with the certificate of the
#     credentials, an admin request with the token of the credentials; the process: a dynamic
#     uid, no capability (effective and bounding), no_new_privs, a seccomp filter;
#  4. `systemctl stop`: the service ends with status 0 (Result=success).
# Exit status 0 when every check passed. About 1.5 minutes the first time (the image build).
#
# usage: deploy/test-systemd.sh
# env:   WORK (default /tmp/callbackd-image, shared with deploy/test-image.sh), BASE_IMAGE,
#        CALLBACKD_BIN (default build/callbackd: a Debian 12 build)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
WORK=${WORK:-/tmp/callbackd-image}
bin=${CALLBACKD_BIN:-$root/build/callbackd}
name=callbackd-systemd-test-$$
t_start=$SECONDS
me=test-systemd
# shellcheck source=deploy/podman-test-lib.sh
. "$root/deploy/podman-test-lib.sh"

[ -x "$bin" ] || die "no binary at $bin (build first)"
need=()
for tool in podman runc; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -n "${BASE_IMAGE:-}" ] || command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
install_missing "${need[@]}"
use_podman_sandbox
ensure_base

cleanup() { podman rm -f -t 0 "$name" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The image: systemd as PID 1, PostgreSQL, callbackd's runtime libraries, the repository
# files the installation steps read, and the binary where a build leaves it.
ctx=$WORK/systemd-context
rm -rf "$ctx" && mkdir -p "$ctx/src/deploy" "$ctx/src/build"
cp "$root/README.md" "$ctx/src/"
cp "$root/deploy/callbackd.service" "$root/deploy/callbackd.env.example" "$ctx/src/deploy/"
cp "$bin" "$ctx/src/build/callbackd"
cat >"$ctx/Containerfile" <<'EOF'
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd \
      systemd-sysv dbus postgresql-15 curl openssl ca-certificates libmicrohttpd12 libjansson4 \
      libpq5 libcurl4 \
 && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY src /src
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
EOF
say "building the systemd image"
t0=$SECONDS
podman build --quiet --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  -t localhost/callbackd-systemd-test "$ctx" >/dev/null
say "built in $((SECONDS - t0)) s"

# 2. Boot, install as the README says, give it a database.
no_timers podman run -d --name "$name" --systemd=always localhost/callbackd-systemd-test >/dev/null
inside() { podman exec "$name" "$@"; }
t0=$SECONDS
until inside systemctl is-active -q postgresql@15-main 2>/dev/null; do
  [ $((SECONDS - t0)) -lt 60 ] || die "systemd did not start PostgreSQL within 60 s"
  sleep 0.5
done
awk '/^### systemd$/ {s = 1} s && /^```sh$/ {b = 1; next} b && /^```$/ {exit} b' \
  "$root/README.md" >"$ctx/steps.sh"
podman cp "$ctx/steps.sh" "$name:/src/steps.sh"
inside sh -c 'cd /src && bash -euo pipefail steps.sh' >"$WORK/systemd-steps.log" 2>&1 ||
  { cat "$WORK/systemd-steps.log" >&2; die "the README's installation steps failed"; }
password=$(openssl rand -hex 16)
inside runuser -u postgres -- psql -qc "CREATE ROLE callbackd LOGIN PASSWORD '$password'" \
  -c 'CREATE DATABASE callbackd OWNER callbackd'
inside sh -c "echo 'postgresql://callbackd:$password@127.0.0.1:5432/callbackd' > /etc/callbackd/credentials/database_url"
inside systemctl restart callbackd

# 3. The service and its process.
t0=$SECONDS
until [ "$(inside curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:8443/readyz)" = 200 ]; do
  [ $((SECONDS - t0)) -lt 30 ] ||
    { inside journalctl -u callbackd --no-pager | tail -n 20 >&2; die "/readyz not 200 within 30 s"; }
  sleep 0.2
done
inside curl -sS -o /dev/null --cacert /etc/callbackd/tls/cert.pem \
  --resolve "$(inside hostname):8443:127.0.0.1" "https://$(inside hostname):8443/healthz" ||
  die "the certificate of the credentials is not the one served"
say "active; /readyz 200 over HTTPS $((SECONDS - t0)) s after the start"
# shellcheck disable=SC2016 # expanded in the container
status=$(inside sh -c 'curl -sk -o /dev/null -w "%{http_code}" -X PUT \
  https://127.0.0.1:8443/v1/classes-of-service/staff -H "Content-Type: application/json" \
  -H "Authorization: Bearer $(cat /etc/callbackd/credentials/admin_token)" \
  -d "{\"callbacks_allowed\": true}"')
[ "$status" = 200 ] || die "an admin request with the credential's token: $status"
pid=$(inside systemctl show -p MainPID --value callbackd)
proc=$(inside grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$pid/status" | tr -s '\t ' ' ')
uid=$(echo "$proc" | sed -n 's/^Uid: \([0-9]*\).*/\1/p')
if [ "$uid" -lt 61184 ] || [ "$uid" -gt 65519 ]; then die "not a dynamic user: uid $uid"; fi
for want in 'CapEff: 0000000000000000' 'CapBnd: 0000000000000000' 'NoNewPrivs: 1' 'Seccomp: 2'; do
  echo "$proc" | grep -qx "$want" || die "the process lacks '$want': $proc"
done
exposure=$(inside systemd-analyze security callbackd | sed -n 's/.*exposure level for callbackd.service: \([0-9.]*\).*/\1/p')
say "process: dynamic uid $uid, no capability, no_new_privs, seccomp filter; exposure $exposure"

# 4. Stop.
t0=$(date +%s%3N)
inside systemctl stop callbackd
stop_ms=$(($(date +%s%3N) - t0))
result=$(inside systemctl show -p Result -p ExecMainStatus callbackd | sort | tr '\n' ' ')
[ "$result" = "ExecMainStatus=0 Result=success " ] || die "after systemctl stop: $result"
say "systemctl stop: exit status 0 in $stop_ms ms"
say "all checks passed in $((SECONDS - t_start)) s"
