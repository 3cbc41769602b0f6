#!/usr/bin/env bash
# `make up`: the whole system on this machine — a local Kafka broker (secured), the topics, Keycloak
# (people's sign-in), a mail sink, an SMS-gateway sink, the key service (citizens' data keys) and
# every service that exists, each with its embedded SQLite store.
# Everything it starts is recorded under .run/devstack so that `make down` stops exactly that.
set -euo pipefail
cd "$(dirname "$0")/../.."
UV="${UV:-$(command -v uv || echo 'python3 -m uv')}"
RUN="${CASEDESK_RUN_DIR:-$PWD/.run}"
STACK="$RUN/devstack"
mkdir -p "$STACK/logs" "$STACK/pids" "$STACK/data"
export CASEDESK_RUN_DIR="$RUN"
KAFKA_PORT="${CASEDESK_KAFKA_PORT:-9092}"
export CASEDESK_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:$KAFKA_PORT"
MAIL_PORT="${CASEDESK_DEV_SMTP_PORT:-2525}"
SMS_PORT="${CASEDESK_DEV_SMS_PORT:-8025}"

# Mutual TLS between everything: a development CA and a certificate per service, plus `operator`
# (a person's tools: grpcurl, the health wait below), `frontend` (a channel frontend) and `kafka`
# (the broker).
PKI="$STACK/pki"
$UV run --frozen casedesk-pki --out "$PKI" \
  --names case,intake,sla,escalation,notify,keys,desk,operator,frontend,kafka >/dev/null

# The key service's secrets (services/keys/README.md), made once and kept with the stack's data:
# a development KEK of the secret-file provider (casedesk-kek.v1 in a directory, as the chart
# mounts its Secret) and the index key subjects are derived with. Both base64 of 32 random bytes,
# readable by this user only, never in the work tree. Never replaced while they exist: the keys in
# keys.sqlite3 are wrapped with the KEK, every subject is derived with the index key.
KEYS="$STACK/keys"
(
  umask 077
  mkdir -p "$KEYS/kek"
  [ -s "$KEYS/kek/casedesk-kek.v1" ] || head -c 32 /dev/urandom | base64 >"$KEYS/kek/casedesk-kek.v1"
  [ -s "$KEYS/index.key" ] || head -c 32 /dev/urandom | base64 >"$KEYS/index.key"
)

# Keycloak, the identity provider of people: realm `casedesk` (specialists) and realm `portal` (the
# government portal's citizens), from deploy/keycloak. It takes the longest to start, so it starts
# in the background now and is awaited before the services, which verify its tokens.
KEYCLOAK_PORT="${CASEDESK_KEYCLOAK_PORT:-8180}"
KEYCLOAK_URL="http://127.0.0.1:$KEYCLOAK_PORT"
CASEDESK_RUN_DIR="$STACK" CASEDESK_KEYCLOAK_PORT="$KEYCLOAK_PORT" \
  bash tools/infra/keycloak-local.sh start >"$STACK/logs/keycloak-start.log" 2>&1 &
KEYCLOAK_STARTING=$!

# Kafka as in production: SASL_SSL with a SCRAM principal per service and ACLs that let each write
# only the topics it owns (casedesk_runtime.kafka_access). CASEDESK_DEV_KAFKA_SECURITY=plaintext
# runs a PLAINTEXT broker instead (its data lives apart: .run/kafka, not .run/devstack/kafka).
KAFKA_SECURITY="${CASEDESK_DEV_KAFKA_SECURITY:-sasl_ssl}"
declare -A KAFKA_PASSWORD=()
kafka_env() {  # principal -> the CASEDESK_KAFKA_* variables a process authenticating as it needs
  [ "$KAFKA_SECURITY" = plaintext ] && return 0
  echo CASEDESK_KAFKA_SECURITY_PROTOCOL=SASL_SSL CASEDESK_KAFKA_SASL_MECHANISM=SCRAM-SHA-512 \
    CASEDESK_KAFKA_SSL_CAFILE="$PKI/ca.crt" CASEDESK_KAFKA_SASL_USERNAME="$1" \
    CASEDESK_KAFKA_SASL_PASSWORD="${KAFKA_PASSWORD[$1]}"
}
case "$KAFKA_SECURITY" in
  plaintext)
    bash tools/infra/kafka-local.sh start >/dev/null ;;
  sasl_ssl)
    SCRAM=$($UV run --frozen python -m casedesk_runtime.dev_kafka --pki "$PKI" \
      --port "$KAFKA_PORT" --properties "$STACK/kafka-server.properties" \
      --credentials "$STACK/kafka-credentials" --print-scram)
    while IFS='=' read -r principal password; do
      KAFKA_PASSWORD[$principal]=$password
    done <"$STACK/kafka-credentials"
    CASEDESK_RUN_DIR="$STACK" CASEDESK_KAFKA_CONFIG_FILE="$STACK/kafka-server.properties" \
      CASEDESK_KAFKA_SCRAM="$SCRAM" bash tools/infra/kafka-local.sh start >/dev/null ;;
  *) echo "CASEDESK_DEV_KAFKA_SECURITY must be sasl_ssl or plaintext, not $KAFKA_SECURITY" >&2
     exit 2 ;;
esac
# Topics and ACLs as the administrator (idempotent; the chart's topics Job does the same).
# shellcheck disable=SC2046  # kafka_env's words are NAME=value pairs without spaces
env $(kafka_env admin) $UV run --frozen casedesk-topics \
  --bootstrap "$CASEDESK_KAFKA_BOOTSTRAP_SERVERS" >/dev/null
if [ "$KAFKA_SECURITY" = sasl_ssl ]; then
  # shellcheck disable=SC2046
  env $(kafka_env admin) $UV run --frozen casedesk-kafka-access >/dev/null
fi

start() {  # name, command...
  local name=$1; shift
  if [ -f "$STACK/pids/$name" ] && kill -0 "$(cat "$STACK/pids/$name")" 2>/dev/null; then
    return 0
  fi
  setsid nohup "$@" >"$STACK/logs/$name.log" 2>&1 &
  echo $! >"$STACK/pids/$name"
}

if ! wait "$KEYCLOAK_STARTING"; then
  cat "$STACK/logs/keycloak-start.log" >&2
  echo "Keycloak did not start; its log: $STACK/keycloak/keycloak.log" >&2
  exit 1
fi
# Specialists' tokens (x-person-token) at the case service and from intake's operators; citizens'
# tokens (x-citizen-token) at intake. Services that verify no tokens ignore these.
export CASEDESK_OIDC_ISSUER="$KEYCLOAK_URL/realms/casedesk" CASEDESK_OIDC_AUDIENCE=casedesk-case
export CASEDESK_CITIZEN_OIDC_ISSUER="$KEYCLOAK_URL/realms/portal"
export CASEDESK_CITIZEN_OIDC_AUDIENCE=casedesk-intake

start mail-sink $UV run --frozen python tools/devstack/mail_sink.py --port "$MAIL_PORT" --dir "$STACK/mail"
start sms-sink $UV run --frozen python tools/devstack/sms_sink.py --port "$SMS_PORT" --file "$STACK/sms.jsonl"

declare -A PORTS=([intake]=50051 [case]=50052 [sla]=50053 [escalation]=50054 [notify]=50055
                  [keys]=50056)
# Each process's Prometheus endpoint (/metrics). Set here rather than left to the default (gRPC
# port + 1000, in the range the kernel hands out to client sockets): a fixed port outside it.
declare -A METRICS_PORTS=([intake]=9451 [case]=9452 [sla]=9453 [escalation]=9454 [notify]=9455
                          [keys]=9456)
# A service's Python package, when it is not casedesk_<name>.
declare -A MODULES=([keys]=casedesk_keyservice)
DATA="$STACK/data"
export PERSISTENCE_MODULE=eventsourcing.sqlite
export CASEDESK_CASE_ADDRESS="127.0.0.1:${PORTS[case]}"
export CASEDESK_SMTP_HOST=127.0.0.1 CASEDESK_SMTP_PORT="$MAIL_PORT"
export CASEDESK_SMS_GATEWAY_URL="http://127.0.0.1:$SMS_PORT/send"
# Every service's own state lives under the stack's data directory (never in the work tree).
export CASEDESK_DATA_DIR="$DATA/intake"
export CASEDESK_SLA_DB_PATH="$DATA/sla.sqlite3"
export CASEDESK_ESCALATION_SQLITE_PATH="$DATA/escalation.sqlite"
export CASEDESK_STORE_PATH="$DATA/notify.sqlite3"
# One development frontend allowed on every channel; its token is printed below.
DEV_TOKEN="${CASEDESK_DEV_FRONTEND_TOKEN:-casedesk-dev-token}"
DEV_TOKEN_SHA=$(printf '%s' "$DEV_TOKEN" | sha256sum | cut -d' ' -f1)
export CASEDESK_FRONTENDS="[{\"name\": \"dev\", \"token_sha256\": \"$DEV_TOKEN_SHA\", \"channels\": [\"PORTAL_CHAT\", \"PERSONAL_ACCOUNT\", \"EMAIL\", \"PHONE\", \"SOCIAL\", \"MFC\"]}]"
running=()
: >"$STACK/metrics-urls"  # name and metrics URL of each service, for make status
for name in keys case intake sla escalation notify; do
  module=${MODULES[$name]:-casedesk_$name}
  if [ ! -f "services/$name/src/$module/__main__.py" ]; then
    echo "  $name: not built yet, skipped"
    continue
  fi
  kafka=()  # intake and the key service do not use Kafka
  case $name in intake|keys) ;; *) read -ra kafka <<<"$(kafka_env "$name")" ;; esac
  own=()  # a service's own settings
  case $name in
    # The key service: the KEK and index key above, its keys and erasure journal in SQLite; a
    # privacy officer's erasure is verified against the casedesk realm (CASEDESK_OIDC_* above:
    # the role privacy_officer, e.g. privacy.morozova).
    keys) own=(CASEDESK_KEYS_KEK_PROVIDER=secret-file CASEDESK_KEYS_KEK_DIR="$KEYS/kek"
               CASEDESK_KEYS_STORE_URL="$DATA/keys.sqlite3"
               CASEDESK_KEYS_INDEX_KEY_FILE="$KEYS/index.key") ;;
    # Personal data is sealed here by default (services/case/README.md "Sealed personal data"):
    # intake and the case service with the key service and the index key above, notify opens the
    # tokens to send. The chart leaves it to the installation (a decision made once: deploy/
    # README.md); CASEDESK_DEV_SEAL_PERSONAL_DATA=false turns it off for a fresh .run/devstack.
    case|intake) own=(CASEDESK_SEAL_PERSONAL_DATA="${CASEDESK_DEV_SEAL_PERSONAL_DATA:-true}"
               CASEDESK_KEY_SERVICE_ADDRESS="127.0.0.1:${PORTS[keys]}"
               CASEDESK_KEYS_INDEX_KEY_FILE="$KEYS/index.key") ;;
    notify) own=(CASEDESK_KEY_SERVICE_ADDRESS="127.0.0.1:${PORTS[keys]}") ;;
  esac
  SQLITE_DBNAME="$STACK/data/$name.sqlite" CASEDESK_GRPC_PORT="${PORTS[$name]}" \
    CASEDESK_METRICS_PORT="${METRICS_PORTS[$name]}" \
    CASEDESK_TLS_CERT_FILE="$PKI/$name.crt" CASEDESK_TLS_KEY_FILE="$PKI/$name.key" \
    CASEDESK_TLS_CA_FILE="$PKI/ca.crt" \
    start "$name" env "${kafka[@]}" "${own[@]}" $UV run --frozen python -m "$module"
  running+=("$name")
  echo "$name http://127.0.0.1:${METRICS_PORTS[$name]}/metrics" >>"$STACK/metrics-urls"
done

# The desk, the specialists' web workspace: signs them in through Keycloak's casedesk realm and
# calls the case service as `desk` with each one's token.
DESK_PORT="${CASEDESK_DEV_DESK_PORT:-8080}"
DESK_URL="http://127.0.0.1:$DESK_PORT"
DESK_METRICS_PORT=9457
echo "desk http://127.0.0.1:$DESK_METRICS_PORT/metrics" >>"$STACK/metrics-urls"
CASEDESK_DESK_HTTP_PORT="$DESK_PORT" CASEDESK_DESK_PUBLIC_URL="$DESK_URL" \
  CASEDESK_METRICS_PORT="$DESK_METRICS_PORT" \
  CASEDESK_TLS_CERT_FILE="$PKI/desk.crt" CASEDESK_TLS_KEY_FILE="$PKI/desk.key" \
  CASEDESK_TLS_CA_FILE="$PKI/ca.crt" start desk $UV run --frozen python -m casedesk_desk

# A service is up when its standard health check answers SERVING.
for name in "${running[@]}"; do
  $UV run --frozen python tools/devstack/wait_healthy.py "127.0.0.1:${PORTS[$name]}" 60 "$PKI" \
    || { echo "$name did not become healthy; see $STACK/logs/$name.log" >&2; exit 1; }
done
for _ in $(seq 60); do
  curl -sf "$DESK_URL/healthz" >/dev/null && break
  sleep 1
done
curl -sf "$DESK_URL/healthz" >/dev/null \
  || { echo "the desk did not start; see $STACK/logs/desk.log" >&2; exit 1; }

echo "Casedesk is up:"
echo "  kafka          $CASEDESK_KAFKA_BOOTSTRAP_SERVERS   ($KAFKA_SECURITY; principals' passwords in $STACK/kafka-credentials)"
echo "  mail sink      smtp://127.0.0.1:$MAIL_PORT   (messages in $STACK/mail)"
echo "  sms sink       http://127.0.0.1:$SMS_PORT/send   (messages in $STACK/sms.jsonl)"
for name in "${running[@]}"; do
  printf '  %-14s grpc://127.0.0.1:%s   metrics http://127.0.0.1:%s/metrics   (log %s)\n' \
    "$name" "${PORTS[$name]}" "${METRICS_PORTS[$name]}" "$STACK/logs/$name.log"
done
echo "  desk           $DESK_URL   metrics http://127.0.0.1:$DESK_METRICS_PORT/metrics   (sign in as a development user below; log $STACK/logs/desk.log)"
echo "  frontend token $DEV_TOKEN   (metadata: authorization: Bearer <token>, x-citizen-token: <portal token>)"
echo "  keycloak       $KEYCLOAK_URL   (admin console: admin / ${CASEDESK_KEYCLOAK_ADMIN_PASSWORD:-admin}; log $STACK/keycloak/keycloak.log)"
echo "    issuers      $CASEDESK_OIDC_ISSUER   (specialists; audience casedesk-case)"
echo "                 $CASEDESK_CITIZEN_OIDC_ISSUER   (citizens; audience casedesk-intake)"
echo "    users (password = login):"
# Read from the realm files, so the list is always the one Keycloak imported.
python3 - deploy/keycloak/casedesk-realm.json deploy/keycloak/portal-realm.json <<'PY'
import json, sys
for path in sys.argv[1:]:
    realm = json.load(open(path, encoding="utf-8"))
    for user in realm.get("users", []):
        roles = ", ".join(user.get("realmRoles", [])) or "citizen"
        tier = " ".join(f"tier {t}" for t in user.get("attributes", {}).get("tier", []))
        print(f"      {realm['realm']:<9} {user['username']:<16} {roles}{'  ' + tier if tier else ''}")
PY
echo "    tokens from scripts (development clients, password grant):"
echo "      curl -s -d grant_type=password -d client_id=casedesk-dev-tokens -d client_secret=casedesk-dev-tokens-secret \\"
echo "        -d username=l1.ivanova -d password=l1.ivanova $CASEDESK_OIDC_ISSUER/protocol/openid-connect/token"
echo "      (realm portal: client_id=casedesk-portal-frontend, client_secret=casedesk-portal-frontend-secret)"
echo "  certificates   $PKI   (ca.crt; <name>.crt/.key for each service, operator and frontend)"
echo "  key service    development KEK and index key in $KEYS, keys in $DATA/keys.sqlite3"
echo "                 (sealing in intake and case: ${CASEDESK_DEV_SEAL_PERSONAL_DATA:-true}; erasures: privacy.morozova's token)"
echo "Status (make status):"
bash tools/devstack/status.sh
echo "Stop with: make down"
