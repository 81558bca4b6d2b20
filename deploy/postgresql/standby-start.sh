#!/bin/sh
# The standby's start (deploy/compose.yml; by hand on a host: the same three steps). The first
# time, copy the primary with pg_basebackup (-R: standby.signal and primary_conninfo), name
# this standby as the primary's synchronous_standby_names expects, include standby.conf.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h "$PRIMARY_HOST" -p 5432; do sleep 1; done
  PGPASSWORD="$REPLICATION_PASSWORD" pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator \
    -D "$PGDATA" -R -X stream -S standby1 --checkpoint=fast
  echo "primary_conninfo = 'host=$PRIMARY_HOST port=5432 user=replicator password=$REPLICATION_PASSWORD application_name=standby1'" \
    >> "$PGDATA/postgresql.auto.conf"
  echo "include '/etc/varco/standby.conf'" >> "$PGDATA/postgresql.conf"
  chmod 700 "$PGDATA"
fi
exec postgres -D "$PGDATA"
