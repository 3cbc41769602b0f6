# Shared helpers for the tools/infra scripts. Sourced, never executed.
# shellcheck shell=bash

set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$INFRA_DIR/../.." && pwd)"
SCRIPT_NAME="$(basename "$0")"

# Used by the scripts that source this file.
# shellcheck disable=SC2034
KAFKA_VERSION="4.3.1"
CASEDESK_CACHE_DIR="${CASEDESK_CACHE_DIR:-$HOME/.cache/casedesk}"
CASEDESK_RUN_DIR="${CASEDESK_RUN_DIR:-$REPO_ROOT/.run}"

log() { printf '%s: %s\n' "$SCRIPT_NAME" "$*" >&2; }

die() {
    log "error: $*"
    exit 1
}

# Print the last lines of a log file to stderr so a failure explains itself.
show_tail() {
    local file="$1" lines="${2:-40}"
    if [[ -s "$file" ]]; then
        log "last $lines lines of $file:"
        tail -n "$lines" "$file" >&2
    fi
}

# A zombie still answers kill -0, so ask ps for the state: a child that died must count as gone.
is_alive() {
    local state
    state="$(ps -o stat= -p "$1" 2>/dev/null)" || return 1
    [[ "$state" != Z* ]]
}

port_answers() {
    timeout 1 bash -c ": </dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# pid_matches PID MARKER: true when PID is alive and its command line contains MARKER.
# Guards against signalling an unrelated process that reused a stale pid.
pid_matches() {
    local pid="$1" marker="$2"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# running_pid PIDFILE MARKER: prints the pid recorded in PIDFILE when that process still runs.
running_pid() {
    local pidfile="$1" marker="$2" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(head -n1 "$pidfile")"
    pid_matches "$pid" "$marker" || return 1
    echo "$pid"
}

# wait_for_port PORT PID SECONDS LOGFILE: wait until PORT answers; fail early if PID dies.
wait_for_port() {
    local port="$1" pid="$2" seconds="$3" logfile="$4" deadline
    deadline=$((SECONDS + seconds))
    until port_answers "$port"; do
        if ! is_alive "$pid"; then
            show_tail "$logfile"
            die "process $pid exited before 127.0.0.1:$port answered"
        fi
        if ((SECONDS >= deadline)); then
            show_tail "$logfile"
            die "127.0.0.1:$port did not answer within ${seconds}s"
        fi
        sleep 0.2
    done
}

# stop_pid PIDFILE MARKER SECONDS: SIGTERM, wait, then SIGKILL, so no process is left behind.
stop_pid() {
    local pidfile="$1" marker="$2" seconds="$3" pid deadline
    if ! pid="$(running_pid "$pidfile" "$marker")"; then
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + seconds))
    while is_alive "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if is_alive "$pid"; then
        log "pid $pid ignored SIGTERM for ${seconds}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while is_alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$pidfile"
}

# hold_lock FILE: serialise this script with other runs of it (several test sessions may share a
# machine). The lock is released when the script exits.
hold_lock() {
    mkdir -p "$(dirname "$1")"
    exec 9>"$1"
    flock 9
}
