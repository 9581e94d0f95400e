#!/bin/sh
# Run once by the postgres image when it creates the database (compose.yaml): one login role per
# service, as on Kubernetes (deploy/k8s/base/postgres.yaml), so no service can read another's
# schema. CREATE on the database lets each service make its own schema at its first migration.
# The passwords come from postgres.env; psql quotes them (:'name'), nothing is pasted into SQL.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v accounts="$POSTGRES_ACCOUNTS_PASSWORD" \
  -v pins="$POSTGRES_PINS_PASSWORD" \
  -v notifications="$POSTGRES_NOTIFICATIONS_PASSWORD" <<'SQL'
CREATE ROLE accounts LOGIN PASSWORD :'accounts';
CREATE ROLE pins LOGIN PASSWORD :'pins';
CREATE ROLE notifications LOGIN PASSWORD :'notifications';
GRANT CREATE ON DATABASE kundenportal TO accounts, pins, notifications;
SQL
