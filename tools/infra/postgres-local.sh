#!/usr/bin/env bash
# PostgreSQL as a plain local process: the fallback event store for development and tests when no
# Docker engine is available. Database, user and password are all "casedesk".
#   tools/infra/postgres-local.sh start|stop|status
# Environment: CASEDESK_POSTGRES_PORT (5432), CASEDESK_RUN_DIR (<repo>/.run): the cluster, its log
#              and postmaster.pid live in $CASEDESK_RUN_DIR/postgres.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="${CASEDESK_POSTGRES_PORT:-5432}"
dir="$CASEDESK_RUN_DIR/postgres"
data="$dir/data"
logfile="$dir/postgres.log" # written by the server's owner, hence not by this script
database="casedesk"
role="casedesk"
password="casedesk"
# postgres refuses to run as root, so root hands the cluster to Debian's unprivileged account.
os_user="${CASEDESK_POSTGRES_OS_USER:-postgres}"

pg_bin() {
    local bin
    bin="$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
    [[ -x "$bin/postgres" ]] || die "PostgreSQL server binaries not found (run tools/infra/bootstrap.sh)"
    echo "$bin"
}

as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u "$os_user" -- "$@"
    else
        "$@"
    fi
}

init_cluster() {
    local bin="$1" pwfile
    mkdir -p "$dir"
    [[ "$(id -u)" == 0 ]] && chown "$os_user:" "$dir"
    pwfile="$(as_owner mktemp "$dir/pwfile.XXXXXX")"
    echo "$password" >"$pwfile"
    # Unix sockets stay off: every client, including this script, talks TCP on loopback.
    as_owner "$bin/initdb" -D "$data" -U "$role" --pwfile="$pwfile" --auth=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        rm -f "$pwfile"
        show_tail "$dir/initdb.log"
        die "initdb failed"
    }
    rm -f "$pwfile"
}

start() {
    local bin
    bin="$(pg_bin)"
    if status >/dev/null; then
        log "already running on 127.0.0.1:$port"
        return 0
    fi
    port_answers "$port" && die "127.0.0.1:$port is already taken by another process"
    [[ -f "$data/PG_VERSION" ]] || init_cluster "$bin"
    as_owner "$bin/pg_ctl" -D "$data" -l "$logfile" -w -t 60 \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" \
        start >/dev/null || { show_tail "$logfile"; die "postgres did not start"; }
    local exists
    exists="$(PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p "$port" -U "$role" -d postgres \
        -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")"
    if [[ "$exists" != 1 ]]; then
        PGPASSWORD="$password" "$bin/createdb" -h 127.0.0.1 -p "$port" -U "$role" "$database"
    fi
    log "started on 127.0.0.1:$port (database $database)"
}

stop() {
    local bin
    bin="$(pg_bin)"
    if [[ -f "$data/postmaster.pid" ]]; then
        # Fast mode disconnects clients instead of waiting for them: tests leave pools open.
        as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
    fi
    log "stopped"
}

status() {
    local bin
    bin="$(pg_bin)"
    if [[ -f "$data/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        echo "running on 127.0.0.1:$port"
    else
        echo "stopped"
        return 3
    fi
}

case "${1:-}" in
start | stop | status) "$1" ;;
*) die "usage: $SCRIPT_NAME start|stop|status" ;;
esac
