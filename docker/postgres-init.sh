#!/usr/bin/env bash
# Second init step of the postgres container (/docker-entrypoint-initdb.d, after
# database/bootstrap.sql has made one role and schema per service): give each service role
# the password from .env, and make the read-only role of the postgres-exporter.
#
# Runs once, on an empty data volume. The entrypoint sources this file when it is not
# executable, so it defines a function and never calls `exit`.
# Passwords reach psql as variables (-v) and are quoted by psql (:'pw'), never spliced into SQL.

set_fleet_role_passwords() {
    local role var pw
    # The services that keep data in Postgres; otp and ofac keep none, so their roles (made by
    # bootstrap.sql) get no password and cannot log in.
    local -a roles=(gateway confirm risk notification account audit kyc partner_bank)
    local -a psql_cmd=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-payment_db}")

    for role in "${roles[@]}"; do
        var="${role^^}_DB_PASSWORD"
        pw="${!var:-}"
        if [ -z "$pw" ]; then
            echo "postgres-init: $var is not set; refusing to leave role $role without a password" >&2
            return 1
        fi
        "${psql_cmd[@]}" -v role="$role" -v pw="$pw" <<'SQL' || return 1
ALTER ROLE :"role" WITH LOGIN PASSWORD :'pw';
SQL
    done

    pw="${POSTGRES_EXPORTER_DB_PASSWORD:-}"
    if [ -z "$pw" ]; then
        echo "postgres-init: POSTGRES_EXPORTER_DB_PASSWORD is not set" >&2
        return 1
    fi
    "${psql_cmd[@]}" -v pw="$pw" <<'SQL' || return 1
SELECT 'CREATE ROLE postgres_exporter LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postgres_exporter')
\gexec
ALTER ROLE postgres_exporter WITH PASSWORD :'pw';
GRANT pg_monitor TO postgres_exporter;
SQL
    echo "postgres-init: passwords set for ${#roles[@]} service roles and postgres_exporter"
}

set_fleet_role_passwords
