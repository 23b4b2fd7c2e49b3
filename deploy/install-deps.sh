#!/usr/bin/env bash
# Installs, with apt, whatever the build, the tests and the quickstart need and is missing.
# Nothing is touched (no apt-get update either) when everything is already installed.
# usage: deploy/install-deps.sh        (as root, or as a user with sudo)
set -euo pipefail

# clang, libclang-rt-dev (libFuzzer and the sanitizer runtimes) and llvm (llvm-symbolizer, for
# readable stack traces) build and run the fuzz targets of tests/fuzz.
# kamailio and three module packages (http_client; crypto; jansson and uuid) run the reference
# SIP adapter of deploy/kamailio; sip-tester (SIPp) and baresip-core are the trunk gateway and
# the phones of its test (tests/sip); curl is what deploy/*.sh post with.
# systemd (systemd-analyze), python3-kubernetes (the Kubernetes API types) and docker-compose
# (the Compose schema; no engine is used) check the deployment files of tests/deploy.
# chromium is the real browser of tests/browser (the admin console and the phone app).
# wrk drives the POST runs of the benchmark (tests/bench/run.sh; pgbench comes with postgresql).
PACKAGES=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libpq-dev libssl-dev
  libcurl4-openssl-dev libcmocka-dev postgresql python3-pytest python3-yaml python3-jsonschema
  nodejs npm clang-format cppcheck openssl clang libclang-rt-dev llvm curl
  kamailio kamailio-utils-modules kamailio-tls-modules kamailio-extra-modules sip-tester
  baresip-core systemd python3-kubernetes docker-compose chromium wrk)

installed() {
  case "$1" in
    # NodeSource's nodejs bundles npm and conflicts with Debian's npm package: a working
    # `node`/`npm` command is what we need, whichever package brought it.
    nodejs) command -v node >/dev/null 2>&1 && return 0 ;;
    npm) command -v npm >/dev/null 2>&1 && return 0 ;;
  esac
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed" >&2
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-deps: missing packages (${missing[*]}) and not root; run this as root" >&2
    exit 1
  }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
