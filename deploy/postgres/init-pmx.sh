#!/bin/sh
# First start of the postgres service only (docker-entrypoint-initdb.d): the pipeline's role and its two databases.
#   portfolio  - the trading database (PORTFOLIO_DB_DSN); its tables come from portfolio/schema.py's migrations
#   pmx_state  - the add-on's stores: alert outbox and error-monitor state (PMX_ALERTS_OUTBOX_DSN,
#                PMX_ERROR_MONITOR_DSN); their tables are created by the add-on on first use
set -eu
password="$(cat /run/secrets/pmx_db_password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" --set password="$password" <<'SQL'
CREATE ROLE pmx LOGIN PASSWORD :'password';
CREATE DATABASE portfolio OWNER pmx;
CREATE DATABASE pmx_state OWNER pmx;
SQL
