#!/usr/bin/env bash
# Keycloak, the development and test identity provider, as a plain JVM process with the realms of
# deploy/keycloak (`make up`, and the tests' fallback when no Docker engine is available).
#   tools/infra/keycloak-local.sh start|stop|status
#   tools/infra/keycloak-local.sh seed   -> the directory of the seed database (see below)
# Environment:
#   CASEDESK_KEYCLOAK_PORT (8180)                 HTTP; issuers http://127.0.0.1:<port>/realms/*
#   CASEDESK_KEYCLOAK_MANAGEMENT_PORT (port + 1)  /health/ready, /health/live
#   CASEDESK_KEYCLOAK_ADMIN_PASSWORD (admin)      the master realm's `admin` (loopback only)
#   CASEDESK_KEYCLOAK_REALMS_DIR (<repo>/deploy/keycloak)  the *-realm.json files
#   CASEDESK_KEYCLOAK_READY_SECONDS (180)
#   CASEDESK_RUN_DIR (<repo>/.run)                instance, log and pid in <run dir>/keycloak
# Every start begins from the seed: a database holding exactly the realm files' realms, clients and
# users plus the master realm's admin, made once by `kc.sh import` and kept in the cache
# (keycloak-<version>/seed-<hash of distribution, realm files and admin password>). Nothing a
# previous run changed survives a restart. Starting from the seed instead of importing takes about
# a third of the time: creating the schema and the realms is most of a fresh Keycloak's start-up.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="${CASEDESK_KEYCLOAK_PORT:-8180}"
management_port="${CASEDESK_KEYCLOAK_MANAGEMENT_PORT:-$((port + 1))}"
realms_dir="${CASEDESK_KEYCLOAK_REALMS_DIR:-$REPO_ROOT/deploy/keycloak}"
admin_password="${CASEDESK_KEYCLOAK_ADMIN_PASSWORD:-admin}"
ready_seconds="${CASEDESK_KEYCLOAK_READY_SECONDS:-180}"
dir="$CASEDESK_RUN_DIR/keycloak"
# kc.sh takes its home from its own location and keeps its state in <home>/data, so an instance is
# a copy of bin/ next to links to the shared distribution's read-only parts, and its own data/.
home="$dir/home"
pidfile="$dir/keycloak.pid"
logfile="$dir/keycloak.log"
# Both kc.sh's and the JVM's command lines hold this path, which tells our Keycloak from others'.
marker="$home/bin/"
# Heap: Keycloak's own default outside containers, plenty for a few realms and test traffic.
# C1 only (TieredStopAtLevel=1): on two busy cores the C2 compiler's threads compete with start-up,
# and a development identity provider never runs long enough for C2's code to pay off.
export JAVA_OPTS_KC_HEAP="-Xms128m -Xmx512m" JAVA_OPTS_APPEND="-XX:TieredStopAtLevel=1"

# http_status PORT PATH: the HTTP status code of a GET on loopback (empty when nothing answers).
# Plain bash, because curl is not among the machine's packages (tools/infra/bootstrap.sh).
http_status() {
    local reply
    # shellcheck disable=SC2016  # expanded by the inner bash, which gets PORT and PATH as $1 $2
    reply="$(timeout 3 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n" "$2" "$1" >&3
        head -n1 <&3' _ "$1" "$2" 2>/dev/null)" || reply=""
    reply="${reply#HTTP/* }"
    echo "${reply:0:3}"
}

realms=()
load_realms() {
    mapfile -t realms < <(compgen -G "$realms_dir/*-realm.json" | sort)
    ((${#realms[@]} > 0)) || die "no *-realm.json files in $realms_dir"
}

# make_home DIST HOME: an instance directory whose kc.sh runs DIST with HOME/data as its state.
make_home() {
    local dist="$1" target="$2" part
    rm -rf "$target"
    mkdir -p "$target/data"
    cp -r "$dist/bin" "$target/bin"
    for part in conf lib providers themes; do
        ln -s "$dist/$part" "$target/$part"
    done
}

# seed_dir DIST: where the seed for DIST, the realm files and the admin password lives.
seed_dir() {
    local dist="$1" key realm
    key="$(
        echo "$dist"
        echo "$admin_password"
        for realm in "${realms[@]}"; do
            basename "$realm"
            cat "$realm"
        done
    )"
    echo "$(dirname "$dist")/seed-$(sha256sum <<<"$key" | cut -c1-16)"
}

# ensure_seed DIST SEED: import the realms into a fresh database once; SEED/h2 appears by rename.
ensure_seed() {
    local dist="$1" seed="$2"
    [[ -d "$seed/h2" ]] && return 0
    # A subshell, so the lock is released as soon as the seed exists; `die` in it ends the script.
    (
        hold_lock "$seed.lock"
        [[ -d "$seed/h2" ]] && exit 0 # another run made it while we waited
        staging="$(mktemp -d "$seed.partial.XXXXXX")"
        trap 'rm -rf "$staging"' EXIT
        make_home "$dist" "$staging/home"
        mkdir -p "$staging/home/data/import"
        cp "${realms[@]}" "$staging/home/data/import/"
        log "importing $realms_dir into a seed database (once per change of the realm files)"
        # The bootstrap administrator is created with the master realm, i.e. on this database.
        # The import runs Keycloak without its HTTP listener but with the management interface.
        if ! KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD="$admin_password" \
            "$staging/home/bin/kc.sh" import --optimized --dir "$staging/home/data/import" \
            --http-host=127.0.0.1 --http-management-port="$management_port" \
            >"$staging/import.log" 2>&1 </dev/null; then
            show_tail "$staging/import.log"
            die "importing the realms of $realms_dir failed"
        fi
        [[ -d "$staging/home/data/h2" ]] ||
            { show_tail "$staging/import.log"; die "the import left no database behind"; }
        mv "$staging/home/data/h2" "$staging/h2"
        rm -rf "${staging:?}/home"
        mv "$staging" "$seed"
        trap - EXIT
    )
}

# seed: prints the seed directory (the containers of tools/infra/images/keycloak start from it).
seed() {
    local dist seed
    load_realms
    dist="$("$INFRA_DIR/keycloak-dist.sh")"
    seed="$(seed_dir "$dist")"
    ensure_seed "$dist" "$seed"
    echo "$seed"
}

wait_until_ready() {
    local pid="$1" deadline realm name
    deadline=$((SECONDS + ready_seconds))
    until [[ "$(http_status "$management_port" /health/ready)" == 200 ]]; do
        if ! is_alive "$pid"; then
            show_tail "$logfile"
            die "Keycloak (pid $pid) exited before it became ready"
        fi
        if ((SECONDS >= deadline)); then
            show_tail "$logfile"
            die "Keycloak was not ready within ${ready_seconds}s"
        fi
        sleep 0.25
    done
    for realm in "${realms[@]}"; do
        name="$(basename "$realm" -realm.json)"
        [[ "$(http_status "$port" "/realms/$name/.well-known/openid-configuration")" == 200 ]] ||
            { show_tail "$logfile"; die "realm $name (from $realm) does not answer"; }
    done
}

start() {
    local pid dist seed started=$SECONDS
    if pid="$(running_pid "$pidfile" "$marker")"; then
        log "already running (pid $pid) on 127.0.0.1:$port"
        return 0
    fi
    command -v java >/dev/null || die "java is not installed (run tools/infra/bootstrap.sh)"
    port_answers "$port" && die "127.0.0.1:$port is already taken by another process"
    port_answers "$management_port" &&
        die "127.0.0.1:$management_port is already taken by another process"
    load_realms
    dist="$("$INFRA_DIR/keycloak-dist.sh")"
    seed="$(seed_dir "$dist")"
    ensure_seed "$dist" "$seed"
    make_home "$dist" "$home"
    cp -r "$seed/h2" "$home/data/h2"
    # setsid: Keycloak must outlive this script and ignore the terminal's Ctrl-C.
    setsid "$home/bin/kc.sh" start --optimized \
        --http-enabled=true --http-host=127.0.0.1 --http-port="$port" \
        --http-management-port="$management_port" --hostname="http://127.0.0.1:$port" \
        --cache=local --log-level=INFO,io.smallrye.health:WARN \
        >"$logfile" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
    wait_until_ready "$pid"
    log "started (pid $pid) on http://127.0.0.1:$port in $((SECONDS - started))s"
}

stop() {
    local pid deadline
    if ! pid="$(running_pid "$pidfile" "$marker")"; then
        rm -f "$pidfile"
        log "stopped"
        return 0
    fi
    # kc.sh passes SIGTERM on to its JVM and waits for it; the JVM shuts down in a second or two.
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while is_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if is_alive "$pid"; then
        # setsid made kc.sh a process group leader: the group is kc.sh and its JVM, nothing else.
        log "pid $pid ignored SIGTERM for 30s; sending SIGKILL to its process group"
        kill -KILL -- "-$pid" 2>/dev/null || true
        while is_alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$pidfile"
    log "stopped"
}

status() {
    local pid ready
    if pid="$(running_pid "$pidfile" "$marker")"; then
        ready="$(http_status "$management_port" /health/ready)"
        echo "running (pid $pid) on http://127.0.0.1:$port (/health/ready: ${ready:-no answer})"
    else
        echo "stopped"
        return 3
    fi
}

case "${1:-}" in
start | stop | status | seed) "$1" ;;
*) die "usage: $SCRIPT_NAME start|stop|status|seed" ;;
esac
