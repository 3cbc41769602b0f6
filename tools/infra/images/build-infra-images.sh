#!/usr/bin/env bash
# Build the local infrastructure images: casedesk/debian:bookworm, casedesk/kafka:4.3.1,
# casedesk/postgres:15 and casedesk/keycloak:26.7.3. Each image is labelled with a hash of its build context and base image,
# so an unchanged image is skipped in well under a second; FORCE=1 rebuilds all of them.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

base_tag="${CASEDESK_BASE_IMAGE:-casedesk/debian:bookworm}"
kafka_tag="casedesk/kafka:$KAFKA_VERSION"
postgres_tag="casedesk/postgres:15"
keycloak_tag="casedesk/keycloak:$("$INFRA_DIR/keycloak-dist.sh" version)"
images_dir="$INFRA_DIR/images"
hash_label="org.casedesk.inputs-sha256"

command -v docker >/dev/null || die "the docker client is not installed (run tools/infra/bootstrap.sh)"

# context_hash DIR: covers every file's path and content plus the exact base image.
context_hash() {
    {
        docker image inspect -f '{{.Id}}' "$base_tag"
        (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1
}

# build TAG CONTEXT_DIR
build() {
    local tag="$1" context="$2" wanted current started
    wanted="$(context_hash "$context")"
    current="$(docker image inspect -f "{{index .Config.Labels \"$hash_label\"}}" "$tag" 2>/dev/null || true)"
    if [[ "${FORCE:-0}" != 1 && "$current" == "$wanted" ]]; then
        return 0
    fi
    log "building $tag"
    started=$SECONDS
    # The engine runs without bridge networking, so apt inside the build uses the host network.
    if ! docker build --network host --quiet --label "$hash_label=$wanted" \
        --build-arg "BASE_IMAGE=$base_tag" -t "$tag" "$context" >"$context.build.log" 2>&1; then
        show_tail "$context.build.log" 60
        die "building $tag failed"
    fi
    log "built $tag in $((SECONDS - started))s"
}

hold_lock "$CASEDESK_CACHE_DIR/images.lock"
"$images_dir/build-base.sh"

staging="$(mktemp -d "${TMPDIR:-/tmp}/casedesk-images.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

# The jars reach the Kafka image through its build context; hard links avoid a 44 MB copy.
libs="$("$INFRA_DIR/kafka-jars.sh")"
mkdir -p "$staging/kafka"
cp "$images_dir/kafka/Dockerfile" "$images_dir/kafka/entrypoint.sh" \
    "$images_dir/kafka/server.properties" "$INFRA_DIR/kafka/log4j2.properties" "$staging/kafka/"
cp -al "$libs" "$staging/kafka/libs" 2>/dev/null || cp -a "$libs" "$staging/kafka/libs"
build "$kafka_tag" "$staging/kafka"

mkdir -p "$staging/postgres"
cp "$images_dir/postgres/Dockerfile" "$images_dir/postgres/entrypoint.sh" "$staging/postgres/"
build "$postgres_tag" "$staging/postgres"

# Keycloak's distribution, downloaded and built once by keycloak-dist.sh, reaches its image the
# same way as Kafka's jars (hard links into the build context).
keycloak_dist="$("$INFRA_DIR/keycloak-dist.sh")"
mkdir -p "$staging/keycloak"
cp "$images_dir/keycloak/Dockerfile" "$staging/keycloak/"
cp -al "$keycloak_dist" "$staging/keycloak/dist" 2>/dev/null || cp -a "$keycloak_dist" "$staging/keycloak/dist"
build "$keycloak_tag" "$staging/keycloak"
