#!/usr/bin/env bash
# `make down`: stop every process `make up` recorded, then Keycloak and the local broker. Leaves no
# process.
set -uo pipefail
cd "$(dirname "$0")/../.."
RUN="${CASEDESK_RUN_DIR:-$PWD/.run}"
STACK="$RUN/devstack"
export CASEDESK_RUN_DIR="$RUN"
for pidfile in "$STACK"/pids/*; do
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  # Each process was started in its own session: signal the whole group (uv and its child).
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "stopped $(basename "$pidfile")"
done
CASEDESK_RUN_DIR="$STACK" bash tools/infra/keycloak-local.sh stop
# The secured broker (make up's default) keeps its data under the stack, a PLAINTEXT one in $RUN.
CASEDESK_RUN_DIR="$STACK" bash tools/infra/kafka-local.sh stop
bash tools/infra/kafka-local.sh stop
