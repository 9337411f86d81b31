#!/usr/bin/env bash
# Start a local PostgreSQL for the storage tests and print its URL on the last line.
#
# Meant for CI containers (Debian 12, root, no systemd) and dev machines alike; safe to run
# again: it installs, starts and creates only what is missing. All chatter goes to stderr so
# that `export ARENA_TEST_POSTGRES_URL="$(.ci/postgres.sh)"` works.
set -euo pipefail

ROLE="${ARENA_PG_ROLE:-arena}"
PASSWORD="${ARENA_PG_PASSWORD:-arena}"
DATABASE="${ARENA_PG_DATABASE:-arena_test}"
CLUSTER="main"

log() { printf '%s\n' "postgres.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (it installs packages and starts the cluster as user postgres)"
    exit 1
fi

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
fi

# Newest installed server version, e.g. "15" on Debian 12.
VERSION="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
if [ -z "$VERSION" ]; then
    log "no PostgreSQL server found under /usr/lib/postgresql"
    exit 1
fi

if ! pg_lsclusters --no-header | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
    log "creating cluster $VERSION/$CLUSTER"
    pg_createcluster "$VERSION" "$CLUSTER" >&2
fi

# The socket directory lives on tmpfs in some containers and vanishes between boots.
install -d -o postgres -g postgres -m 2775 /var/run/postgresql

if pg_lsclusters --no-header | awk -v v="$VERSION" -v c="$CLUSTER" '$1 == v && $2 == c && $4 == "online" { found = 1 } END { exit !found }'; then
    log "cluster $VERSION/$CLUSTER already running"
else
    log "starting cluster $VERSION/$CLUSTER"
    pg_ctlcluster "$VERSION" "$CLUSTER" start >&2
fi

PORT="$(pg_conftool -s "$VERSION" "$CLUSTER" show port 2>/dev/null || echo 5432)"

for _ in $(seq 1 60); do
    if pg_isready -q -h 127.0.0.1 -p "$PORT"; then
        break
    fi
    sleep 0.5
done
if ! pg_isready -q -h 127.0.0.1 -p "$PORT"; then
    log "PostgreSQL did not accept connections on 127.0.0.1:$PORT within 30 s"
    exit 1
fi

as_postgres() { runuser -u postgres -- psql -p "$PORT" -v ON_ERROR_STOP=1 -qtA "$@"; }

if [ "$(as_postgres -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != "1" ]; then
    log "creating role $ROLE"
    as_postgres -c "CREATE ROLE \"$ROLE\" LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
else
    # Keep the password and rights known even if someone changed them.
    as_postgres -c "ALTER ROLE \"$ROLE\" LOGIN CREATEDB PASSWORD '$PASSWORD'" >&2
fi

if [ "$(as_postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != "1" ]; then
    log "creating database $DATABASE"
    as_postgres -c "CREATE DATABASE \"$DATABASE\" OWNER \"$ROLE\"" >&2
fi

log "ready"
echo "postgresql+psycopg://$ROLE:$PASSWORD@127.0.0.1:$PORT/$DATABASE"
