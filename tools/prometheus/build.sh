#!/usr/bin/env bash
# Builds Prometheus and promtool from the Go module proxy (no binary download site is reachable)
# and prints the path of each binary asked for, one a line, in the order asked:
#
#   tools/prometheus/build.sh promtool prometheus
#
# Used by `make alert-test` (promtool test rules on the chart's alert rules) and the metrics
# integration test (a real Prometheus scraping the services). Builds are cached as
# ${CASEDESK_CACHE_DIR:-~/.cache/casedesk}/bin/<name>-<version>, so only the first run builds
# (a few minutes each on two cores); a binary appears only by rename, so its presence means a
# complete build; concurrent runs wait on a lock. The version is tools/prometheus/go.mod's.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../infra/lib.sh"

# Prometheus 3.16's Go module version; the -X flags make `prometheus --version` say 3.16.0.
VERSION="v0.316.0"
MODULE_DIR="$REPO_ROOT/tools/prometheus"
BIN_DIR="$CASEDESK_CACHE_DIR/bin"

ldflags() {
    local pkg=github.com/prometheus/common/version
    echo "-s -w -X $pkg.Version=3.16.0 -X $pkg.Branch=release -X $pkg.Revision=$VERSION"
}

build() {
    local name="$1" staging started
    staging="$(mktemp -d "$BIN_DIR/.prometheus-build.XXXXXX")"
    # shellcheck disable=SC2064  # expand now: the trap must remove this staging directory
    trap "rm -rf '$staging'" EXIT
    log "building $name from the Go module proxy (first run only; minutes on two cores)"
    started=$SECONDS
    (cd "$MODULE_DIR" && CGO_ENABLED=0 go build -trimpath -ldflags "$(ldflags)" \
        -o "$staging/$name" "github.com/prometheus/prometheus/cmd/$name") >&2 \
        || die "go build of $name failed"
    mv -f "$staging/$name" "$BIN_DIR/$name-$VERSION"
    rm -rf "$staging"
    trap - EXIT
    log "built $name in $((SECONDS - started)) s"
}

main() {
    (($# > 0)) || set -- promtool prometheus
    local name
    for name in "$@"; do
        [[ "$name" == promtool || "$name" == prometheus ]] \
            || die "unknown binary '$name' (promtool, prometheus)"
    done
    mkdir -p "$BIN_DIR"
    for name in "$@"; do
        [[ -x "$BIN_DIR/$name-$VERSION" ]] && continue
        hold_lock "$CASEDESK_CACHE_DIR/prometheus-$VERSION.lock"
        command -v go >/dev/null || die "the Go toolchain (go 1.26 or newer) is required"
        break
    done
    for name in "$@"; do
        # Checked again under the lock: a concurrent run may have built it meanwhile.
        [[ -x "$BIN_DIR/$name-$VERSION" ]] || build "$name"
    done
    for name in "$@"; do echo "$BIN_DIR/$name-$VERSION"; done
}

main "$@"
