#!/bin/bash
# Start a KRaft broker configured the way the official apache/kafka image is:
#   KAFKA_FOO_BAR=x -> foo.bar=x   (__ -> _, ___ -> -), CLUSTER_ID formats fresh storage,
#   no KAFKA_* configuration at all -> the bundled single-node server.properties.
# KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS and KAFKA_OPTS are JVM options, not properties.
# With arguments, runs them instead (for example a Kafka tool class on /opt/kafka/libs).
# Our addition: SCRAM_CREDENTIALS='SCRAM-SHA-512=[name=a,password=x];SCRAM-SHA-512=[name=b,...]'
# creates those SCRAM users when the storage is formatted (kafka-storage format --add-scram), so a
# SASL_SSL broker has its users, the broker's own included, before it first starts.
set -euo pipefail

if (($# > 0)); then
    exec "$@"
fi

config=/etc/kafka/server.properties
classpath='/opt/kafka/libs/*'
jvm_only=" KAFKA_HEAP_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS \
KAFKA_JMX_PORT KAFKA_JMX_HOSTNAME KAFKA_LOG4J_OPTS KAFKA_LOG4J_ROOT_LOGLEVEL KAFKA_LOG4J_LOGGERS \
KAFKA_TOOLS_LOG4J_LOGLEVEL KAFKA_VERSION KAFKA_HOME "

property_name() {
    local key="${1#KAFKA_}"
    key="${key,,}"
    key="${key//___/$'\x01'}"
    key="${key//__/$'\x02'}"
    key="${key//_/.}"
    key="${key//$'\x01'/-}"
    echo "${key//$'\x02'/_}"
}

write_config_from_env() {
    local name found=0
    : >"$config"
    for name in $(compgen -e | grep '^KAFKA_' | sort); do
        [[ "$jvm_only" == *" $name "* ]] && continue
        printf '%s=%s\n' "$(property_name "$name")" "${!name}" >>"$config"
        found=1
    done
    if ((found == 0)); then
        cp /opt/kafka/config/server.properties "$config"
        return
    fi
    # The official image derives listeners from advertised listeners when only those are given.
    if ! grep -q '^listeners=' "$config" && [[ -n "${KAFKA_ADVERTISED_LISTENERS:-}" ]]; then
        echo "listeners=$(sed -E 's#://[^:,]*:#://0.0.0.0:#g' <<<"$KAFKA_ADVERTISED_LISTENERS")" >>"$config"
    fi
    grep -q '^log.dirs=' "$config" || echo "log.dirs=/var/lib/kafka/data" >>"$config"
}

write_config_from_env

cluster_id="${CLUSTER_ID:-$(java -cp "$classpath" kafka.tools.StorageTool random-uuid)}"
# --ignore-formatted keeps a restarted container's existing data. "--cluster-id=" keeps an id that
# starts with "-" (one base64 id in 64) from being read as an option.
scram_args=()
if [[ -n "${SCRAM_CREDENTIALS:-}" ]]; then
    IFS=';' read -ra scram_entries <<<"$SCRAM_CREDENTIALS"
    for entry in "${scram_entries[@]}"; do
        [[ -n "$entry" ]] && scram_args+=(--add-scram "$entry")
    done
fi
java -cp "$classpath" -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    kafka.tools.StorageTool format --ignore-formatted --cluster-id="$cluster_id" -c "$config" \
    "${scram_args[@]}" >/dev/null

# Word splitting of the option variables is intended: each holds several JVM flags.
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xms512m -Xmx512m} \
    ${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true} \
    ${KAFKA_OPTS:-} -Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties \
    -cp "$classpath" kafka.Kafka "$config"
