#!/usr/bin/env bash
# Provision a local PostgreSQL server for development and tests.
#
# Usage: scripts/postgres.sh
#
# Installs Debian's `postgresql` when missing, starts the newest "main"
# cluster when it is down, waits for it with pg_isready, makes sure a login
# role with CREATEDB exists and can authenticate over TCP on 127.0.0.1, and
# raises max_connections (restarting only when that setting changes).
#
# stdout: exactly one line, an admin URL on the `postgres` database that tests
#         use to create and drop their own databases, e.g.
#         postgres://chatgql:chatgql@127.0.0.1:5432/postgres
# stderr: progress and errors. Exit status is non-zero on failure.
#
# Environment (all optional):
#   CHATGQL_PG_USER              role name          (default: chatgql)
#   CHATGQL_PG_PASSWORD          role password      (default: chatgql)
#   CHATGQL_PG_MAX_CONNECTIONS   minimum max_connections; empty or 0 leaves
#                                the server setting alone (default: 300)
#   CHATGQL_PG_TIMEOUT           seconds to wait for readiness (default: 60)
set -euo pipefail

CHATGQL_SCRIPT_NAME=postgres
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_USER="${CHATGQL_PG_USER:-chatgql}"
PG_PASSWORD="${CHATGQL_PG_PASSWORD:-chatgql}"
PG_MAX_CONNECTIONS="${CHATGQL_PG_MAX_CONNECTIONS-300}"
PG_TIMEOUT="${CHATGQL_PG_TIMEOUT:-60}"
PG_CLUSTER=main

[[ $PG_USER =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "CHATGQL_PG_USER must be a plain identifier, got '$PG_USER'"
[[ -z $PG_MAX_CONNECTIONS || $PG_MAX_CONNECTIONS =~ ^[0-9]+$ ]] \
  || die "CHATGQL_PG_MAX_CONNECTIONS must be a number, got '$PG_MAX_CONNECTIONS'"

take_lock postgres

# Print "VERSION PORT STATUS" of the newest cluster named $PG_CLUSTER, if any.
find_cluster() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 0
  pg_lsclusters --no-header 2>/dev/null \
    | awk -v name="$PG_CLUSTER" '$2 == name { print $1, $3, $4 }' \
    | sort -V | tail -n 1
}

# 1. Install.
if ! command -v pg_ctlcluster >/dev/null 2>&1 || ! command -v pg_isready >/dev/null 2>&1 \
  || [[ -z $(find_cluster) ]]; then
  if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q 'install ok installed'; then
    apt_install postgresql
  fi
fi
cluster=$(find_cluster)
if [[ -z $cluster ]]; then
  # Package present but its default cluster was removed: recreate it.
  version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
  [[ -n $version ]] || die "postgresql is installed but no server version was found under /usr/lib/postgresql"
  log "creating cluster $version/$PG_CLUSTER"
  as_root pg_createcluster "$version" "$PG_CLUSTER" >&2 || die "pg_createcluster $version $PG_CLUSTER failed"
  cluster=$(find_cluster)
  [[ -n $cluster ]] || die "cluster $version/$PG_CLUSTER still missing after pg_createcluster"
fi
read -r PG_VERSION PG_PORT PG_STATUS <<<"$cluster"
log "cluster $PG_VERSION/$PG_CLUSTER on port $PG_PORT is $PG_STATUS"

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -t 2; }

wait_ready() {
  wait_until "$PG_TIMEOUT" "PostgreSQL on 127.0.0.1:$PG_PORT" pg_ready \
    || die "PostgreSQL $PG_VERSION/$PG_CLUSTER did not become ready within ${PG_TIMEOUT}s; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
}

# 2. Start.
if [[ $PG_STATUS != online* ]]; then
  log "starting cluster $PG_VERSION/$PG_CLUSTER"
  as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2 \
    || die "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
fi
pg_ready || wait_ready

# Run SQL as the postgres superuser over the local socket; prints tuples only.
psql_super() {
  as_user postgres psql -X -q -t -A -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
}

# 3. max_connections (needs a restart, so only when it is below the target).
if [[ -n $PG_MAX_CONNECTIONS && $PG_MAX_CONNECTIONS != 0 ]]; then
  current=$(psql_super -c 'SHOW max_connections') || die "could not read max_connections"
  if ((current < PG_MAX_CONNECTIONS)); then
    log "raising max_connections from $current to $PG_MAX_CONNECTIONS (restarts the cluster)"
    psql_super -c "ALTER SYSTEM SET max_connections = $PG_MAX_CONNECTIONS" >&2 \
      || die "ALTER SYSTEM SET max_connections failed"
    as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" restart >&2 \
      || die "pg_ctlcluster $PG_VERSION $PG_CLUSTER restart failed; see /var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log"
    wait_ready
    current=$(psql_super -c 'SHOW max_connections') || die "could not read max_connections"
    ((current >= PG_MAX_CONNECTIONS)) || die "max_connections is still $current after restart"
  fi
  log "max_connections = $current"
fi

# 4. Role usable over TCP with a password, allowed to create databases.
# Fast path: the role already logs in over TCP and has CREATEDB.
role_ok() {
  [[ $(PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -t -A -w \
    -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres \
    -c 'SELECT rolcreatedb AND rolcanlogin FROM pg_roles WHERE rolname = current_user' \
    2>/dev/null) == t ]]
}
if role_ok; then
  log "role $PG_USER already logs in over TCP with CREATEDB"
else
  log "creating/updating role $PG_USER"
  psql_super -v role="$PG_USER" -v pass="$PG_PASSWORD" >&2 <<'SQL' || die "could not create or update role $PG_USER"
SELECT format('CREATE ROLE %I', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'pass')
\gexec
SQL
  role_ok || die "role $PG_USER still cannot log in over TCP 127.0.0.1:$PG_PORT with its password (check pg_hba.conf)"
fi

printf 'postgres://%s:%s@127.0.0.1:%s/postgres\n' \
  "$(urlencode "$PG_USER")" "$(urlencode "$PG_PASSWORD")" "$PG_PORT"
