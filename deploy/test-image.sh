#!/usr/bin/env bash
# shellcheck disable=SC2317  # cleanup runs from a trap
# Builds the container image of deploy/Containerfile with podman and proves that it runs:
#  1. the base: BASE_IMAGE when given (e.g. docker.io/library/debian:12-slim), else a Debian 12
#     minbase made from Debian's package archive with mmdebstrap and `podman import`ed (no
#     container registry needed; cached in WORK);
#  2. `podman build --format docker` (the docker format keeps the HEALTHCHECK);
#  3. checks the image: numeric non-root USER, the health check, no compiler inside;
#  4. starts a private PostgreSQL on the host, runs `callbackd migrate` in the image (the
#     migrate Job's command), then runs the image against it with a read-only
#     root, no capability, no-new-privileges, the secrets as credential files (as Kubernetes
#     and systemd hand them over), waits for /readyz, runs the image's own health check;
#  5. provisions two stations and creates a callback through the API, reads it back;
#  6. stops the container with SIGTERM: exit status 0 within 10 s;
#  7. plays the Kubernetes Deployment of deploy/k8s with `podman kube play` (adapted to one host);
#  8. prints the image size.
# Exit status 0 when every check passed. It takes about 3 minutes (most of it the vfs build).
#
# usage: deploy/test-image.sh
# env:   WORK        podman storage, base tarball, PostgreSQL (default /tmp/callbackd-image)
#        BASE_IMAGE  base of both stages (default: the minbase made here)
#        PG_PORT     the host PostgreSQL (default 54340), API_PORT callbackd's (default 58080);
#                    each the next free one when taken
#        IMAGE       tag of the image built (default localhost/callbackd:<version>)
#
# podman runs with a configuration of its own in WORK (deploy/podman-test-lib.sh) and the host
# network: what a sandboxed machine needs; the Containerfile does not depend on them.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
WORK=${WORK:-/tmp/callbackd-image}
PG_PORT=${PG_PORT:-54340}
API_PORT=${API_PORT:-58080}
version=$(sed -n 's/^project(callbackd VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
IMAGE=${IMAGE:-localhost/callbackd:$version}
name=callbackd-image-test-$$
t_start=$SECONDS

me=test-image
# shellcheck source=deploy/podman-test-lib.sh
. "$root/deploy/podman-test-lib.sh"

need=()
for tool in podman runc curl catatonit; do # catatonit: the pause process of kube play
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
[ -n "${BASE_IMAGE:-}" ] || command -v mmdebstrap >/dev/null 2>&1 || need+=(mmdebstrap)
/usr/bin/python3 -c 'import yaml' 2>/dev/null || need+=(python3-yaml)
install_missing "${need[@]}"
use_podman_sandbox

cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  bash "$root/deploy/pg-cluster.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The base.
ensure_base

# 2. The image.
say "building $IMAGE on $BASE_IMAGE"
t0=$SECONDS
podman build --quiet --format docker --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
  -f deploy/Containerfile -t "$IMAGE" . >/dev/null
build_s=$((SECONDS - t0))
say "built in $build_s s"

# 3. What the image is.
user=$(podman image inspect --format '{{.Config.User}}' "$IMAGE")
[[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || die "USER is '$user', not a numeric non-root uid"
health=$(podman image inspect --format '{{json .HealthCheck}}' "$IMAGE")
case "$health" in *'/healthz'*) ;; *) die "no health check on /healthz in the image: $health" ;; esac
tools=$(podman run --rm --no-healthcheck --network host --entrypoint /bin/sh "$IMAGE" -c \
  'for t in cc gcc cmake make; do command -v "$t"; done; ls -A /usr/include 2>/dev/null; echo checked' 2>&1)
[ "$tools" = checked ] || die "build tools in the runtime image: $tools"

# 4. Run it against a PostgreSQL on the host.
bash deploy/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true # a run that was interrupted
rm -rf "$WORK/pg" "$WORK/credentials"
pg_url=$(PG_FAST=1 bash deploy/pg-cluster.sh start "$WORK/pg" "$PG_PORT") # the next port if taken
API_PORT=$(free_port "$API_PORT")
admin=$(openssl rand -hex 24)
install -d -m 700 -o 10001 -g 10001 "$WORK/credentials"
printf '%s\n' "$pg_url" >"$WORK/credentials/database_url"
printf '%s\n' "$admin" >"$WORK/credentials/admin_token"
openssl rand -hex 24 >"$WORK/credentials/pbx_secret"
chown 10001:10001 "$WORK"/credentials/*
chmod 400 "$WORK"/credentials/*

# `callbackd migrate` alone first, as deploy/k8s/migrate-job.yaml runs it: exit 0, schema current.
podman run --rm --no-healthcheck --network host --read-only --cap-drop all \
  -e CREDENTIALS_DIRECTORY=/run/credentials/callbackd \
  -v "$WORK/credentials:/run/credentials/callbackd:ro" "$IMAGE" migrate >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; die "callbackd migrate failed in the image"; }
grep -q '"schema is current"' "$WORK/migrate.log" || die "migrate: $(cat "$WORK/migrate.log")"
say "callbackd migrate in the image: exit 0, schema current"
no_timers podman run -d --name "$name" --network host --read-only --cap-drop all \
  --security-opt no-new-privileges -e "CALLBACKD_LISTEN=127.0.0.1:$API_PORT" \
  -e CREDENTIALS_DIRECTORY=/run/credentials/callbackd \
  -v "$WORK/credentials:/run/credentials/callbackd:ro" "$IMAGE" >/dev/null
url=http://127.0.0.1:$API_PORT
wait_ready "$name" "$url"
uid=$(podman top "$name" huser | tail -n 1 | tr -d ' ')
[ "$uid" = 10001 ] || die "the process runs as uid '$uid'"
no_timers podman healthcheck run "$name" || die "the image's health check failed"
say "the health check passes; the process runs as uid $uid"

# 5. A callback through the API.
curl_opts=()
create_callback 2001 2002
say "callback $id created and read back"

# 6. SIGTERM: exit 0 within 10 s (podman stop sends the image's STOPSIGNAL, SIGKILL at 10 s).
t0=$(date +%s%3N)
no_timers podman stop -t 10 "$name" >/dev/null
stop_ms=$(($(date +%s%3N) - t0))
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = 0 ] || { podman logs "$name" >&2; die "exit status $code after SIGTERM"; }
[ "$stop_ms" -lt 10000 ] || die "stopping took $stop_ms ms"
podman logs "$name" 2>&1 | grep -q '"msg": *"stopped"' || die "no \"stopped\" log line"
say "stopped by SIGTERM in $stop_ms ms, exit status 0"

# 7. The Kubernetes Deployment (deploy/k8s/callbackd.yaml) under `podman kube play`, with what
# podman needs here: the host network (so one replica: one port; the Service is not played),
# numeric probe ports, the local image, and the Secret made a podman secret by hand in the form
# podman 4.3 reads (its own `kube play` of a Secret stores YAML that it cannot read back).
kube=$WORK/kube
rm -rf "$kube" && mkdir -p "$kube"
KUBE_DIR=$kube DB_URL=$pg_url ADMIN=$admin \
  PORT=$API_PORT IMAGE=$IMAGE /usr/bin/python3 - <<'PY'
import base64, json, os, yaml
docs = list(yaml.safe_load_all(open("deploy/k8s/callbackd.yaml")))
secret = next(yaml.safe_load_all(open("deploy/k8s/secret.example.yaml")))
values = dict(secret["stringData"], database_url=os.environ["DB_URL"], admin_token=os.environ["ADMIN"])
json.dump({k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
          open(os.environ["KUBE_DIR"] + "/secret.json", "w"))
dep = next(d for d in docs if d["kind"] == "Deployment")
dep["spec"]["replicas"] = 1
pod = dep["spec"]["template"]["spec"]
pod["hostNetwork"] = True
c = pod["containers"][0]
c["image"] = os.environ["IMAGE"]
del c["ports"]
port = int(os.environ["PORT"])
next(e for e in c["env"] if e["name"] == "CALLBACKD_LISTEN")["value"] = f"127.0.0.1:{port}"
c["livenessProbe"]["httpGet"]["port"] = c["readinessProbe"]["httpGet"]["port"] = port
yaml.safe_dump(dep, open(os.environ["KUBE_DIR"] + "/deployment.yaml", "w"))
PY
podman secret rm callbackd >/dev/null 2>&1 || true
podman secret create callbackd "$kube/secret.json" >/dev/null
no_timers podman kube play "$kube/deployment.yaml" >/dev/null
kube_down() { no_timers podman kube down "$kube/deployment.yaml" >/dev/null 2>&1 || true; }
trap 'kube_down; podman secret rm callbackd >/dev/null 2>&1; cleanup' EXIT
ctr=callbackd-pod-0-callbackd
wait_ready "$ctr" "$url"
sandbox=$(podman inspect --format '{{.HostConfig.ReadonlyRootfs}} {{len .EffectiveCaps}} {{.HostConfig.SecurityOpt}}' "$ctr")
[ "$sandbox" = "true 0 [no-new-privileges]" ] || die "kube play: read-only, no caps, nnp? $sandbox"
[ "$(podman top "$ctr" huser | tail -n 1 | tr -d ' ')" = 10001 ] || die "kube play: not uid 10001"
[ "$(api GET "/v1/callbacks/$id")" = 200 ] || die "kube play: GET /v1/callbacks/$id"
kube_down
say "deploy/k8s/callbackd.yaml under podman kube play: ready, uid 10001, read-only root, no capability"

# 8. The size.
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "image $IMAGE: $((size / 1000000)) MB ($size bytes), base $BASE_IMAGE, built in $build_s s"
say "all checks passed in $((SECONDS - t_start)) s"
