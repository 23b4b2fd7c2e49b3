#!/usr/bin/env bash
# Lints openapi.yaml with Redocly CLI: the recommended ruleset with its warnings promoted to
# errors (`recommended-strict`), so an example that does not match its schema fails too.
# Redocly comes from npm at a pinned version, installed once into a cache directory; node and
# npm come from apt when missing. Telemetry is off. Exit status: non-zero on any lint problem.
#
# usage: tests/lint-openapi.sh
# env:   REDOCLY_CACHE  install root (default ${XDG_CACHE_HOME:-$HOME/.cache}/callbackd/redocly)
set -euo pipefail

# Pinned versions (bump deliberately: the rules change between releases). Redocly 2.x needs
# node >= 20.19; Debian 12's own nodejs is 18, for which the last 1.x line is used.
REDOCLY_VERSION_NODE20=2.77.0
REDOCLY_VERSION_NODE18=1.34.5

root=$(cd "$(dirname "$0")/.." && pwd)
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "lint-openapi: node/npm missing, installing them with apt" >&2
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "lint-openapi: need root (or sudo) to install nodejs npm" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
fi

# node >= 20.19 (or >= 22.12 on 22, or >= 23) runs Redocly 2.x.
if node -e 'const [a, b] = process.versions.node.split(".").map(Number);
            process.exit(a >= 23 || (a === 22 && b >= 12) || (a === 20 && b >= 19) ? 0 : 1)'; then
  version=$REDOCLY_VERSION_NODE20
else
  version=$REDOCLY_VERSION_NODE18
fi
dir=${REDOCLY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callbackd/redocly}/$version
bin=$dir/node_modules/.bin/redocly

if [ ! -x "$bin" ]; then
  echo "lint-openapi: installing @redocly/cli@$version into $dir" >&2
  mkdir -p "$dir"
  npm install --no-audit --no-fund --silent --prefix "$dir" "@redocly/cli@$version" >&2
fi

config=()
[ -f "$root/tests/redocly.yaml" ] && config=(--config "$root/tests/redocly.yaml")
cd "$root"
echo "lint-openapi: @redocly/cli@$version, recommended-strict" >&2
"$bin" lint "${config[@]}" --extends recommended-strict openapi.yaml
