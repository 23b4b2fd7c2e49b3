#!/usr/bin/env bash
# Posts a batch of PBX events to callbackd, signed as openapi.yaml says (an operator's helper for
# trying the webhook by hand, or a script in front of a PBX that cannot sign).
#
# usage: deploy/sign-event.sh URL SECRET 'JSON-BODY'
#        deploy/sign-event.sh URL SECRET - < body.json
#
#   URL        the service (http://127.0.0.1:8080) or the webhook itself (…/v1/pbx/events)
#   SECRET     CALLBACKD_PBX_SECRET of the service
#   JSON-BODY  the whole body, e.g. '{"events": [{"id": "e1", "type": "station.state",
#              "station": "2002", "availability": "busy"}]}'; "-" reads it from stdin
#
# Signs "<unix time>.<body>" with HMAC-SHA256 (openssl), sends X-Callbackd-Timestamp and
# X-Callbackd-Signature: v1=<hex> with curl, prints the answer and the HTTP status on stderr.
# Exit status 0 for a 2xx answer, 1 for any other answer, 2 for a usage error.
# Extra curl options (e.g. --cacert ca.pem for HTTPS) may be given in SIGN_EVENT_CURL_OPTS.
# The secret is passed to openssl on its command line: do not use this on a shared host.
set -euo pipefail

if [ $# -ne 3 ]; then
  sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
url=$1
secret=$2
body=$3
if [ "$body" = "-" ]; then
  body=$(cat)
fi
[ -n "$secret" ] || { echo "sign-event: SECRET is empty" >&2; exit 2; }
[ -n "$body" ] || { echo "sign-event: JSON-BODY is empty" >&2; exit 2; }
command -v openssl >/dev/null || { echo "sign-event: openssl not found" >&2; exit 2; }
command -v curl >/dev/null || { echo "sign-event: curl not found" >&2; exit 2; }

url=${url%/}
case "$url" in
  */v1/pbx/events) ;;
  *) url=$url/v1/pbx/events ;;
esac

ts=$(date +%s)
# The signed bytes are exactly the bytes sent: no trailing newline on either.
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
[[ $sig =~ ^[0-9a-f]{64}$ ]] || { echo "sign-event: openssl gave no signature" >&2; exit 2; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2086 # SIGN_EVENT_CURL_OPTS is a list of options
status=$(printf '%s' "$body" | curl -sS ${SIGN_EVENT_CURL_OPTS:-} -o "$out" -w '%{http_code}' \
  -X POST "$url" \
  -H 'Content-Type: application/json' \
  -H "X-Callbackd-Timestamp: $ts" \
  -H "X-Callbackd-Signature: v1=$sig" \
  --data-binary @-)
cat "$out"
[ -s "$out" ] && [ "$(tail -c1 "$out")" != "" ] && echo
echo "HTTP $status" >&2
case "$status" in
  2??) exit 0 ;;
  *) exit 1 ;;
esac
