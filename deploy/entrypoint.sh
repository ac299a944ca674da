#!/bin/sh
# Entry point of the project's image in deploy/docker-compose.yml: the pipeline's PostgreSQL password comes from
# the pmx_db_password Docker secret into libpq's PGPASSWORD (the *_DSN settings carry no password), then the
# service's command runs.
set -eu
if [ -r /run/secrets/pmx_db_password ]; then
    PGPASSWORD="$(cat /run/secrets/pmx_db_password)"
    export PGPASSWORD
fi
exec "$@"
