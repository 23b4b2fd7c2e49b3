#!/usr/bin/env bash
# Starts Kamailio with deploy/kamailio/kamailio.cfg in the foreground: the SIP proxy and
# registrar for the extensions, the trunk gateway route and the callbackd adapter.
#
#   deploy/kamailio/run.sh [--provision-demo]
#
# Environment (defaults in brackets):
#   CALLBACKD_URL           callbackd's API [http://127.0.0.1:8080]; events go to /v1/pbx/events
#   CALLBACKD_PBX_SECRET    the shared secret; when unset, read from ./var/quickstart.env
#   CALLBACKD_ADMIN_TOKEN   only for --provision-demo; likewise read from ./var/quickstart.env
#   KAMAILIO_SIP            address:port of SIP, UDP and TCP [127.0.0.1:5060]
#   KAMAILIO_HTTP           address:port where callbackd POSTs commands [127.0.0.1:5080]: set
#                           callbackd's CALLBACKD_PBX_COMMAND_URL to http://<it>/callbackd/commands
#   KAMAILIO_TRUNKS         trunk groups, "<number>=<gateway host:port>=<line>/<line>" separated
#                           by ";" [9=127.0.0.1:5070=9-L1/9-L2]
#   KAMAILIO_NO_ANSWER_MS   ringing time before a call counts as not answered [30000]
#   KAMAILIO_HANGUP_S       seconds a phone shows a failed call before it counts as hung up [30]
#   KAMAILIO_LOG_LEVEL      Kamailio's debug level, 1 (notices) to 3 (debug) [2]
#
# --provision-demo first provisions, through the API, class of service "staff", stations 2001,
# 2002 and 2003 (IP phones) and trunk group 9 with the lines of KAMAILIO_TRUNKS, callbacks
# activated, and turns digit_collection_during_busy_or_alerting on (the Setup code dialed after
# a failed call): what the README's "Try it with SIP phones" needs.
# Kamailio logs to stderr; Ctrl-C (SIGTERM, SIGINT) stops it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
root=$(cd "$here/../.." && pwd -P)

envfile=$root/var/quickstart.env
if [ -r "$envfile" ]; then
  while IFS='=' read -r key value; do
    case "$key" in
      CALLBACKD_PBX_SECRET | CALLBACKD_ADMIN_TOKEN) [ -n "${!key:-}" ] || export "$key=$value" ;;
    esac
  done <"$envfile"
fi
: "${CALLBACKD_PBX_SECRET:?set CALLBACKD_PBX_SECRET (or run deploy/quickstart.sh once)}"
url=${CALLBACKD_URL:-http://127.0.0.1:8080}
url=${url%/}
sip=${KAMAILIO_SIP:-127.0.0.1:5060}
http=${KAMAILIO_HTTP:-127.0.0.1:5080}
trunks=${KAMAILIO_TRUNKS:-9=127.0.0.1:5070=9-L1/9-L2}
no_answer_ms=${KAMAILIO_NO_ANSWER_MS:-30000}

case "$CALLBACKD_PBX_SECRET$trunks$url$sip" in
  *[\"\\]*)
    echo "run.sh: quotes and backslashes are not allowed in the settings" >&2
    exit 2
    ;;
esac

if [ "${1:-}" = "--provision-demo" ]; then
  : "${CALLBACKD_ADMIN_TOKEN:?set CALLBACKD_ADMIN_TOKEN for --provision-demo}"
  put() {
    curl -sS -f -o /dev/null -X PUT "$url$1" -H "Authorization: Bearer $CALLBACKD_ADMIN_TOKEN" \
      -H 'Content-Type: application/json' -d "$2"
  }
  put /v1/classes-of-service/staff '{"callbacks_allowed": true}'
  # the adapter sends feature access codes dialed after a failed call as dialed during it
  put /v1/system-options '{"digit_collection_during_busy_or_alerting": true}'
  for n in 2001 2002 2003; do
    put "/v1/stations/$n" '{"kind": "ip_phone", "cos": "staff"}'
  done
  IFS=';' read -ra groups <<<"$trunks"
  for g in "${groups[@]}"; do
    number=${g%%=*}
    lines=${g##*=}
    put "/v1/trunk-groups/$number" \
      "{\"lines\": [\"${lines//\//\", \"}\"], \"callback_activation\": true}"
  done
  echo "run.sh: provisioned stations 2001-2003 and trunk groups of '$trunks'" >&2
fi

command -v kamailio >/dev/null || {
  echo "run.sh: kamailio is not installed (deploy/install-deps.sh installs it)" >&2
  exit 1
}
rundir=$(mktemp -d /tmp/callbackd-kamailio.XXXXXX)
trap 'rm -rf "$rundir"' EXIT
echo "run.sh: SIP on $sip, commands at http://$http/callbackd/commands, events to $url" >&2
kamailio -DD -E -f "$here/kamailio.cfg" -Y "$rundir" -P "$rundir/kamailio.pid" \
  -l "udp:$sip" -l "tcp:$sip" -l "tcp:$http" \
  -A "CB_EVENTS_URL=\"$url/v1/pbx/events\"" -A "CB_SECRET=\"$CALLBACKD_PBX_SECRET\"" \
  -A "CB_SIP=\"$sip\"" -A "CB_CONTACT=\"sip:callbackd@$sip\"" -A "CB_TRUNKS=\"$trunks\"" \
  -A "CB_NO_ANSWER_MS=$no_answer_ms" \
  -A "CB_HANGUP_S=${KAMAILIO_HANGUP_S:-30}" \
  --debug="${KAMAILIO_LOG_LEVEL:-2}" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' INT TERM
while kill -0 "$pid" 2>/dev/null; do
  wait "$pid" || true
done
