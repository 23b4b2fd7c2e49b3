#!/bin/sh
# First start: a cluster in $PGDATA with the `callbackd` role (password $POSTGRES_PASSWORD) and
# database; every start: the server in the foreground, listening on every address with
# password (SCRAM) authentication.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  initdb -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 --auth-local=peer \
    --auth-host=scram-sha-256 >/dev/null
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  quoted=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
  postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE callbackd LOGIN PASSWORD '$quoted';
CREATE DATABASE callbackd OWNER callbackd;
SQL
  echo "postgres-entrypoint: cluster made, role and database callbackd" >&2
fi
exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp
