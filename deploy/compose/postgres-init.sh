#!/bin/sh
# Grace's database roles (run once by the postgres image, from /docker-entrypoint-initdb.d, in $POSTGRES_DB):
# one login role per service owning the schema of the same name (the kit's schemaForService: the service's
# name with _ for -) and nothing else. No role may create in `public` or create schemas; none can read
# another's schema. Passwords come from <SCHEMA>_DB_PASSWORD (docker-compose.yml gives dev-only defaults).
# GRACE_DB_ROLE_PREFIX (empty) prefixes the role names, so a test can run this on a shared cluster.
# Executed (it is executable) or sourced by the image's entrypoint: stop at the first failure either way.
set -e

SERVICES='trigger-mesh sentinel action-executor verifier learning-loop cube-etl chat-gateway'
prefix="${GRACE_DB_ROLE_PREFIX:-}"
database="${POSTGRES_DB:?POSTGRES_DB is not set}"

run_sql() {
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "${POSTGRES_USER:-postgres}" --dbname "$database" "$@"
}

run_sql -v database="$database" <<'SQL'
revoke all on schema public from public;
revoke all on database :"database" from public;
SQL

for service in $SERVICES; do
  schema=$(printf %s "$service" | tr - _)
  variable="$(printf %s "$schema" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  eval "password=\${$variable:?$variable is not set}"
  run_sql -v database="$database" -v role="$prefix$schema" -v schema="$schema" -v password="$password" <<'SQL'
create role :"role" login password :'password';
grant connect, temporary on database :"database" to :"role";
create schema :"schema" authorization :"role";
SQL
  echo "postgres-init: role $prefix$schema owns schema $schema"
done
