#!/usr/bin/env bash
# Make sure a Docker engine answers, starting a local dockerd only when `docker info` fails.
#   tools/infra/docker-engine.sh ensure|stop
# Our machines have no bridge networking or iptables, hence the flags; containers use the host
# network. The daemon's log and pid live in ${CASEDESK_RUN_DIR:-<repo>/.run}/docker. `stop` only
# stops a daemon this script started. A daemon for a non-default DOCKER_HOST socket needs its own
# CASEDESK_DOCKER_DATA_ROOT so that it never shares state with the machine's main engine.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir="$CASEDESK_RUN_DIR/docker"
pidfile="$dir/dockerd.pid"
logfile="$dir/dockerd.log"
default_host="unix:///var/run/docker.sock"
host="${DOCKER_HOST:-$default_host}"
ready_seconds="${CASEDESK_DOCKER_READY_SECONDS:-60}"

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure() {
    command -v docker >/dev/null || die "the docker client is not installed (run tools/infra/bootstrap.sh)"
    engine_answers && return 0
    hold_lock "$dir/ensure.lock"
    engine_answers && return 0 # another session started it while we waited
    [[ "$host" == unix://* ]] || die "the Docker engine at $host does not answer and is not local"
    command -v dockerd >/dev/null || die "dockerd is not installed (run tools/infra/bootstrap.sh)"
    [[ "$(id -u)" == 0 ]] || die "no Docker engine answers at $host and starting one needs root"
    local args=(--bridge=none --iptables=false --ip6tables=false -H "$host" --pidfile "$pidfile")
    if [[ "$host" != "$default_host" ]]; then
        [[ -n "${CASEDESK_DOCKER_DATA_ROOT:-}" ]] ||
            die "DOCKER_HOST=$host needs CASEDESK_DOCKER_DATA_ROOT for its own daemon's state"
        args+=(--data-root "$CASEDESK_DOCKER_DATA_ROOT" --exec-root "$dir/exec")
    fi
    log "starting dockerd ($host)"
    setsid dockerd "${args[@]}" >"$logfile" 2>&1 </dev/null &
    local pid=$! deadline=$((SECONDS + ready_seconds))
    until engine_answers; do
        if ! is_alive "$pid"; then
            show_tail "$logfile" 20
            die "dockerd exited during start-up; the Docker engine is not available"
        fi
        if ((SECONDS >= deadline)); then
            show_tail "$logfile" 20
            kill -TERM "$pid" 2>/dev/null || true
            die "dockerd did not answer within ${ready_seconds}s; the Docker engine is not available"
        fi
        sleep 0.5
    done
    log "dockerd ready (pid $pid)"
}

stop() {
    local pid
    if ! pid="$(running_pid "$pidfile" "dockerd")"; then
        log "no dockerd started by this script is running"
        return 0
    fi
    # dockerd stops its containers first; give them the default 10 s grace plus a margin.
    stop_pid "$pidfile" "dockerd" 30
    # dockerd leaves its network-namespace bind mount behind; unmount what lives in our exec root
    # so the run directory can be deleted.
    grep -o " $dir/exec/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    log "stopped dockerd (pid $pid)"
}

case "${1:-}" in
ensure | stop) "$1" ;;
*) die "usage: $SCRIPT_NAME ensure|stop" ;;
esac
