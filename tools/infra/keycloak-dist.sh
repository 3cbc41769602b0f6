#!/usr/bin/env bash
# Fetch Keycloak's server distribution from Maven Central into the cache (once), pre-build it for
# our configuration (once) and print its directory.
#   tools/infra/keycloak-dist.sh          -> <cache>/keycloak-26.7.3/dist-<hash of build options>
#                                            (<cache>: ${CASEDESK_CACHE_DIR:-~/.cache/casedesk})
#   tools/infra/keycloak-dist.sh version  -> 26.7.3 (the one place the version is written down)
# The zip (org.keycloak:keycloak-quarkus-dist) stays in the cache next to the built directories, so
# a changed build configuration never downloads it again.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEYCLOAK_VERSION="26.7.3"
# Build-time options (Keycloak/Quarkus bake them into lib/quarkus at `kc.sh build`, which takes a
# minute or more): the embedded H2 file database and the health endpoints used for readiness.
# Starting with `start --optimized` then skips that augmentation on every start. Runtime options
# (ports, hostname, cache=local) are the starting script's business.
BUILD_OPTIONS=(--db=dev-file --health-enabled=true)

if [[ "${1:-}" == version ]]; then
    echo "$KEYCLOAK_VERSION"
    exit 0
fi
[[ $# == 0 ]] || die "usage: $SCRIPT_NAME [version]"

home="$CASEDESK_CACHE_DIR/keycloak-$KEYCLOAK_VERSION"
zip="$home/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip"
# A directory per build configuration: a running Keycloak keeps using the one it started from.
dist="$home/dist-$(printf '%s\n' "${BUILD_OPTIONS[@]}" | sha256sum | cut -c1-12)"
stamp=".casedesk-built"

# Both the zip and the directory only ever appear by rename, so their presence means complete.
if [[ ! -f "$dist/$stamp" ]]; then
    hold_lock "$CASEDESK_CACHE_DIR/keycloak-$KEYCLOAK_VERSION.lock"
fi
if [[ ! -f "$dist/$stamp" ]]; then
    command -v java >/dev/null || die "java is not installed (run tools/infra/bootstrap.sh)"
    command -v unzip >/dev/null || die "unzip is not installed"
    mkdir -p "$home"
    staging="$(mktemp -d "$home/partial.XXXXXX")"
    trap 'rm -rf "$staging"' EXIT
    if [[ ! -f "$zip" ]]; then
        command -v mvn >/dev/null || die "maven is not installed (run tools/infra/bootstrap.sh)"
        log "downloading Keycloak $KEYCLOAK_VERSION with Maven"
        # Maven knows the way to Central (and any mirror or proxy the machine configures).
        if ! mvn -B -q org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
            -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" \
            -DoutputDirectory="$staging" >"$staging/mvn.log" 2>&1; then
            show_tail "$staging/mvn.log"
            die "maven could not fetch org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip"
        fi
        mv "$staging/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" "$zip"
    fi
    unzip -q "$zip" -d "$staging" || die "$zip is damaged: delete it and run again"
    built="$staging/keycloak-$KEYCLOAK_VERSION"
    [[ -x "$built/bin/kc.sh" ]] || die "$zip holds no keycloak-$KEYCLOAK_VERSION/bin/kc.sh"
    log "building Keycloak for ${BUILD_OPTIONS[*]} (once; about a minute)"
    if ! "$built/bin/kc.sh" build "${BUILD_OPTIONS[@]}" >"$staging/build.log" 2>&1; then
        show_tail "$staging/build.log"
        die "kc.sh build failed"
    fi
    # The build's scratch files are not part of the distribution every instance shares.
    rm -rf "$built/data"
    printf '%s\n' "${BUILD_OPTIONS[@]}" >"$built/$stamp"
    rm -rf "$dist"
    mv "$built" "$dist"
    trap - EXIT
    rm -rf "$staging"
fi
echo "$dist"
