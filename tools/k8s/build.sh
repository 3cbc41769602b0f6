#!/usr/bin/env bash
# Builds the Kubernetes control plane the chart tests install into (tests/k8s) from the Go module
# proxy (no binary download site is reachable) and prints the path of each binary asked for, one a
# line, in the order asked:
#
#   tools/k8s/build.sh etcd kube-apiserver kube-controller-manager kubectl
#
# Builds are cached as ${CASEDESK_CACHE_DIR:-~/.cache/casedesk}/bin/<name>-<version>, so only the
# first run builds (kube-apiserver: 5 to 10 minutes on two cores; kube-controller-manager and
# kubectl reuse most of its compiled packages from Go's build cache; etcd: about a minute). A
# binary only ever appears by rename, so its presence means a complete build; concurrent runs wait
# on a lock.
#
# The versions are those of the modules in tools/k8s/kube/go.mod and tools/k8s/etcd/go.mod; change
# them together.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../infra/lib.sh"

KUBE_VERSION="v1.37.2"
ETCD_VERSION="v3.7.3"
K8S_DIR="$REPO_ROOT/tools/k8s"
BIN_DIR="$CASEDESK_CACHE_DIR/bin"

# Without these, component-base reports v0.0.0-master: the API server's /version then says v0.0.0
# and Helm refuses the chart's kubeVersion; kubectl takes its client version from client-go.
kube_ldflags() {
    local flags="-s -w" major minor pkg
    major="${KUBE_VERSION#v}" && major="${major%%.*}"
    minor="${KUBE_VERSION#v*.}" && minor="${minor%%.*}"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        flags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    echo "$flags"
}

# build NAME MODULE_DIR LDFLAGS: go build into a private file, then rename into the cache.
# kube-apiserver, kubectl and the other Kubernetes commands share most of k8s.io/*: Go's build
# cache compiles those packages once for all of them.
build() {
    local name="$1" module_dir="$2" ldflags="$3" staging started
    staging="$(mktemp -d "$BIN_DIR/.k8s-build.XXXXXX")"
    # shellcheck disable=SC2064  # expand now: the trap must remove this staging directory
    trap "rm -rf '$staging'" EXIT
    log "building $name from the Go module proxy (first run only; minutes on two cores)"
    started=$SECONDS
    (cd "$module_dir" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" \
        -o "$staging/$name" "$(package_of "$name")") >&2 || die "go build of $name failed"
    mv -f "$staging/$name" "$BIN_DIR/$name-$(version_of "$name")"
    rm -rf "$staging"
    trap - EXIT
    log "built $name in $((SECONDS - started)) s"
}

version_of() {
    case "$1" in
        etcd) echo "$ETCD_VERSION" ;;
        *) echo "$KUBE_VERSION" ;;
    esac
}

package_of() {
    case "$1" in
        etcd) echo "go.etcd.io/etcd/server/v3" ;;
        kube-apiserver | kubectl | kube-controller-manager)
            echo "k8s.io/kubernetes/cmd/$1"
            ;;
        *) die "unknown binary '$1' (etcd, kube-apiserver, kube-controller-manager, kubectl)" ;;
    esac
}

main() {
    (($# > 0)) || set -- etcd kube-apiserver kube-controller-manager kubectl
    local name
    for name in "$@"; do package_of "$name" >/dev/null; done
    mkdir -p "$BIN_DIR"
    for name in "$@"; do
        [[ -x "$BIN_DIR/$name-$(version_of "$name")" ]] && continue
        hold_lock "$CASEDESK_CACHE_DIR/k8s-$KUBE_VERSION.lock"
        command -v go >/dev/null || die "the Go toolchain (go 1.26 or newer) is required"
        break
    done
    for name in "$@"; do
        # Checked again under the lock: a concurrent run may have built it meanwhile.
        [[ -x "$BIN_DIR/$name-$(version_of "$name")" ]] && continue
        if [[ "$name" == etcd ]]; then
            build etcd "$K8S_DIR/etcd" "-s -w"
        else
            build "$name" "$K8S_DIR/kube" "$(kube_ldflags)"
        fi
    done
    for name in "$@"; do echo "$BIN_DIR/$name-$(version_of "$name")"; done
}

main "$@"
