#!/usr/bin/env bash
# A single-node KRaft Kafka broker as a plain JVM process, for development and as the tests'
# fallback when no Docker engine is available.
#   tools/infra/kafka-local.sh start|stop|status
# Environment: CASEDESK_KAFKA_PORT (9092), CASEDESK_KAFKA_CONTROLLER_PORT (port + 1),
#              CASEDESK_RUN_DIR (<repo>/.run): data, log and pid live in $CASEDESK_RUN_DIR/kafka.
# A secured broker (tests/integration/support/provisioning.py start_secure_kafka; see README.md):
#   CASEDESK_KAFKA_CONFIG_FILE  server.properties to use instead of the PLAINTEXT one written here
#                               (it must listen on CASEDESK_KAFKA_PORT and keep log.dirs unset or
#                               in $CASEDESK_RUN_DIR/kafka/data: that is where data is formatted)
#   CASEDESK_KAFKA_SCRAM        'SCRAM-SHA-512=[name=a,password=x];...' users added when the
#                               storage is first formatted (kafka-storage format --add-scram)
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port="${CASEDESK_KAFKA_PORT:-9092}"
controller_port="${CASEDESK_KAFKA_CONTROLLER_PORT:-$((port + 1))}"
dir="$CASEDESK_RUN_DIR/kafka"
config="$dir/server.properties"
pidfile="$dir/kafka.pid"
logfile="$dir/kafka.log"
# Every broker started here carries its own config path, which tells our JVM from anyone else's.
marker="$config"

write_config() {
    if [[ -n "${CASEDESK_KAFKA_CONFIG_FILE:-}" ]]; then
        # It may hold the broker's private key (ssl.keystore.key): readable by this account only.
        (umask 077 && grep -v '^log\.dirs=' "$CASEDESK_KAFKA_CONFIG_FILE" >"$config")
        echo "log.dirs=$dir/data" >>"$config"
        return
    fi
    cat >"$config" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data
num.partitions=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
}

start() {
    local pid libs cluster_id
    if pid="$(running_pid "$pidfile" "$marker")"; then
        log "already running (pid $pid) on 127.0.0.1:$port"
        return 0
    fi
    command -v java >/dev/null || die "java is not installed (run tools/infra/bootstrap.sh)"
    port_answers "$port" && die "127.0.0.1:$port is already taken by another process"
    libs="$("$INFRA_DIR/kafka-jars.sh")"
    mkdir -p "$dir/data"
    write_config
    if [[ ! -f "$dir/data/meta.properties" ]]; then
        cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null)"
        local scram_args=() entries entry
        IFS=';' read -ra entries <<<"${CASEDESK_KAFKA_SCRAM:-}"
        for entry in "${entries[@]}"; do
            [[ -n "$entry" ]] && scram_args+=(--add-scram "$entry")
        done
        java -cp "$libs/*" kafka.tools.StorageTool format --cluster-id="$cluster_id" -c "$config" \
            "${scram_args[@]}" >"$logfile" 2>&1 ||
            { show_tail "$logfile"; die "formatting the KRaft storage failed"; }
    fi
    # setsid: the broker must outlive this script and ignore the terminal's Ctrl-C.
    setsid java -Xms512m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" \
        -cp "$libs/*" kafka.Kafka "$config" >>"$logfile" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$pidfile"
    wait_for_port "$port" "$pid" 90 "$logfile"
    log "started (pid $pid) on 127.0.0.1:$port"
}

stop() {
    # A clean shutdown lets the next start skip log recovery; 60 s covers a busy 2-core machine.
    stop_pid "$pidfile" "$marker" 60
    log "stopped"
}

status() {
    local pid
    if pid="$(running_pid "$pidfile" "$marker")"; then
        echo "running (pid $pid) on 127.0.0.1:$port"
    else
        echo "stopped"
        return 3
    fi
}

case "${1:-}" in
start | stop | status) "$1" ;;
*) die "usage: $SCRIPT_NAME start|stop|status" ;;
esac
