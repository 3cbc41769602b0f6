#!/usr/bin/env bash
# Fetch the Kafka broker's jars from Maven Central into the cache (once) and print their directory.
#   tools/infra/kafka-jars.sh            -> ${CASEDESK_CACHE_DIR:-~/.cache/casedesk}/kafka-4.3.1/libs
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

libs="$CASEDESK_CACHE_DIR/kafka-$KAFKA_VERSION/libs"

# The directory only ever appears by rename, so its presence means a complete download.
if [[ ! -f "$libs/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
    hold_lock "$CASEDESK_CACHE_DIR/kafka-$KAFKA_VERSION.lock"
fi
if [[ ! -f "$libs/kafka_2.13-$KAFKA_VERSION.jar" ]]; then
    command -v mvn >/dev/null || die "maven is not installed (run tools/infra/bootstrap.sh)"
    mkdir -p "$(dirname "$libs")"
    staging="$(mktemp -d "$libs.partial.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    log "resolving Kafka $KAFKA_VERSION jars with Maven"
    if ! mvn -B -q -f "$INFRA_DIR/kafka/pom.xml" dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$staging" >"$staging.log" 2>&1; then
        show_tail "$staging.log"
        rm -f "$staging.log"
        die "maven could not resolve the Kafka jars"
    fi
    rm -f "$staging.log"
    [[ -f "$staging/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "maven finished without kafka_2.13"
    rm -rf "$libs"
    mv "$staging" "$libs"
    chmod 755 "$libs"
    trap - EXIT
fi
echo "$libs"
