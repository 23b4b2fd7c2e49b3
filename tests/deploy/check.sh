#!/usr/bin/env bash
# The deployment files, checked offline in a few seconds (README "Deploying"):
#  - systemd: the README's installation steps (its first sh block under "### systemd") run
#    into an empty root, with the binary under test; every path deploy/callbackd.service names
#    must then exist there; `systemd-analyze verify` must say nothing; `systemd-analyze
#    security` must rate the unit 2.5 or lower; the binary must accept the credential files
#    the steps made (`migrate` gets as far as the database: exit 1, not 2);
#  - Kubernetes: deploy/k8s/*.yaml against the API types (tests/deploy/validate_k8s.py);
#  - compose: deploy/compose.yaml against the Compose schema (`docker-compose config`), with
#    its required variables; the proxy's nginx.conf names the services of the compose file.
# The image, compose and kube-play runs need root, podman and minutes: deploy/test-image.sh
# and deploy/test-compose.sh.
#
# usage: tests/deploy/check.sh       env: CALLBACKD_BIN (default build/callbackd)
set -uo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd -P)
bin=${CALLBACKD_BIN:-$root/build/callbackd}
failed=0
work=$(mktemp -d /tmp/callbackd-deploy-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "check-deploy: FAIL: $*" >&2
  failed=1
}
ok() { echo "check-deploy: ok: $*" >&2; }

[ -x "$bin" ] || { echo "check-deploy: no binary at $bin (build first)" >&2; exit 1; }

# --- systemd ----------------------------------------------------------------------------------
sysroot=$work/root
mkdir -p "$sysroot/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$sysroot/usr/lib/systemd/" # the targets the unit refers to
steps=$(awk '/^### systemd$/ {s = 1} s && /^```sh$/ {b = 1; next} b && /^```$/ {exit} b' \
  "$root/README.md")
[ -n "$steps" ] || fail "README: no sh block under \"### systemd\""
# Into the root: absolute paths of /etc and /usr/local move under it; systemctl is left out.
script=$(printf '%s\n' "$steps" | grep -v '^systemctl ' |
  sed -e "s# /etc/# $sysroot/etc/#g" -e "s# /usr/local/# $sysroot/usr/local/#g" \
    -e "s# build/callbackd # $bin #g")
if (cd "$root" && bash -euo pipefail -c "$script") >"$work/steps.log" 2>&1; then
  ok "the README's systemd installation steps run"
else
  fail "the README's systemd installation steps: $(tail -n 5 "$work/steps.log")"
fi

unit=$root/deploy/callbackd.service
# Every path the unit names: ExecStart's program, EnvironmentFile, credentials, documentation.
paths=$(sed -n -e 's/^ExecStart=\([^ ]*\).*/\1/p' -e 's/^EnvironmentFile=-\{0,1\}\(.*\)/\1/p' \
  -e 's/^LoadCredential=[^:]*:\(.*\)/\1/p' -e 's#^Documentation=file://\(.*\)#\1#p' "$unit")
missing=0
for p in $paths; do
  [ -e "$sysroot$p" ] || { fail "the installation steps do not create $p, which the unit names"; missing=1; }
done
[ $missing -eq 1 ] || ok "the installation steps create every path the unit names ($(echo "$paths" | wc -l))"

verify=$(systemd-analyze verify --root="$sysroot" callbackd.service 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$verify" ]; then
  ok "systemd-analyze verify: clean"
else
  fail "systemd-analyze verify (exit $rc): $verify"
fi

security=$(systemd-analyze security --offline=yes --root="$sysroot" callbackd.service 2>&1)
exposure=$(printf '%s\n' "$security" | sed -n 's/.*Overall exposure level for callbackd.service: \([0-9.]*\).*/\1/p')
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }'; then
  ok "systemd-analyze security: $exposure (at most 2.5)"
else
  fail "systemd-analyze security: '${exposure:-?}', wanted 2.5 or lower: $(printf '%s\n' "$security" | tail -n 3)"
fi

# The binary takes its secrets from the credential files the steps made (systemd would pass the
# same files under $CREDENTIALS_DIRECTORY); the database there is not reachable: exit 1.
creds=$work/credentials
mkdir -p "$creds"
cp "$sysroot"/etc/callbackd/credentials/* "$creds/"
echo "postgresql://callbackd@127.0.0.1:1/callbackd?connect_timeout=2" >"$creds/database_url"
cp "$sysroot/etc/callbackd/tls/cert.pem" "$creds/tls_cert"
cp "$sysroot/etc/callbackd/tls/key.pem" "$creds/tls_key"
env -i PATH="$PATH" CREDENTIALS_DIRECTORY="$creds" "$bin" migrate >"$work/migrate.log" 2>&1
rc=$?
if [ $rc -eq 1 ]; then
  ok "callbackd accepts the credential files (migrate: exit 1 at the unreachable database)"
else
  fail "callbackd with the credential files: exit $rc, wanted 1: $(tail -n 2 "$work/migrate.log")"
fi

# --- Kubernetes ---------------------------------------------------------------------------------
if out=$(/usr/bin/python3 "$root/tests/deploy/validate_k8s.py" "$root"/deploy/k8s/*.yaml 2>&1); then
  ok "Kubernetes manifests: $out"
else
  fail "Kubernetes manifests: $out"
fi

# --- compose ------------------------------------------------------------------------------------
compose=$root/deploy/compose.yaml
if out=$(cd "$root/deploy" && env -i PATH="$PATH" CALLBACKD_ADMIN_TOKEN=x CALLBACKD_PBX_SECRET=y \
  POSTGRES_PASSWORD=z docker-compose -f "$compose" config 2>"$work/compose.err"); then
  services=$(printf '%s\n' "$out" | /usr/bin/python3 -c \
    'import sys, yaml; print(" ".join(sorted(yaml.safe_load(sys.stdin)["services"])))')
  if [ "$services" = "callbackd-1 callbackd-2 postgres proxy" ]; then
    ok "compose.yaml: valid (Compose schema), services $services"
  else
    fail "compose.yaml: services are '$services'"
  fi
else
  fail "compose.yaml: $(cat "$work/compose.err")"
fi
if (cd "$root/deploy" && env -i PATH="$PATH" docker-compose -f "$compose" config) >/dev/null 2>&1; then
  fail "compose.yaml: starts without its secrets (the :? of the variables)"
fi
for s in callbackd-1 callbackd-2; do
  grep -q "server $s:8080" "$root/deploy/compose/proxy/nginx.conf" ||
    fail "nginx.conf does not send requests to $s:8080"
done

[ $failed -eq 0 ] && echo "check-deploy: all checks passed" >&2
exit $failed
