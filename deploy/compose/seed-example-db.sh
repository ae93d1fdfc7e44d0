#!/bin/sh
# Runs once, when the example database's volume is first initialised (/docker-entrypoint-initdb.d): pgbench's
# four tables, so there is something to back up and restore.
set -eu
pgbench -i -s 1 -U "$POSTGRES_USER" "$POSTGRES_DB"
