#!/usr/bin/env bash
# `make status`: what `make up` started and whether it still runs, whether the broker and Keycloak
# answer, whether each service's metrics endpoint answers (with its consumers' lag), and how far the
# case service's outbox relay has got (events stored but not yet on Kafka).
set -uo pipefail
cd "$(dirname "$0")/../.."
UV="${UV:-$(command -v uv || echo 'python3 -m uv')}"
RUN="${CASEDESK_RUN_DIR:-$PWD/.run}"
STACK="$RUN/devstack"
KAFKA_PORT="${CASEDESK_KAFKA_PORT:-9092}"

if ! compgen -G "$STACK/pids/*" >/dev/null; then
  echo "nothing runs: start it with make up"
  exit 0
fi
for pidfile in "$STACK"/pids/*; do
  name=$(basename "$pidfile")
  if kill -0 "$(cat "$pidfile")" 2>/dev/null; then state=running; else state=STOPPED; fi
  printf '  %-14s %s\n' "$name" "$state"
done
if (exec 3<>"/dev/tcp/127.0.0.1/$KAFKA_PORT") 2>/dev/null; then
  printf '  %-14s %s\n' kafka "listening on 127.0.0.1:$KAFKA_PORT"
else
  printf '  %-14s %s\n' kafka "NOT REACHABLE on 127.0.0.1:$KAFKA_PORT (the relay keeps events meanwhile)"
fi
# Keycloak is not among the pids above: keycloak-local.sh keeps its own (in $STACK/keycloak).
keycloak=$(CASEDESK_RUN_DIR="$STACK" CASEDESK_KEYCLOAK_PORT="${CASEDESK_KEYCLOAK_PORT:-8180}" \
  bash tools/infra/keycloak-local.sh status 2>&1)
printf '  %-14s %s\n' keycloak "$keycloak"
# Each service's metrics endpoint (the URLs up.sh wrote): answering, and its consumers' lag.
if [ -f "$STACK/metrics-urls" ]; then
  while read -r name url; do
    if text=$(curl -sf --max-time 3 "$url"); then
      lag=$(awk '/^casedesk_kafka_consumer_lag\{/ { sum += $NF; n++ }
                 END { if (n) printf "; consumer lag %d records", sum }' <<<"$text")
      printf '  %-14s %s\n' "$name" "metrics $url$lag"
    else
      printf '  %-14s %s\n' "$name" "metrics NOT ANSWERING on $url"
    fi
  done <"$STACK/metrics-urls"
fi
# The same store variables as up.sh gives the case service.
PERSISTENCE_MODULE=eventsourcing.sqlite SQLITE_DBNAME="$STACK/data/case.sqlite" \
  $UV run --frozen python -m casedesk_case.cli.outbox_status | sed 's/^/  /'
