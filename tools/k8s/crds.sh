#!/usr/bin/env bash
# Prints the path of each CustomResourceDefinition the chart's objects need on a bare API server
# (tests/k8s), one a line. The production values render cert-manager Certificates; their CRD, with
# its full OpenAPI schema, ships in cert-manager's Go module, so the Go module proxy serves it
# (checked against the Go checksum database) and the module cache keeps it: only the first run
# downloads it (4 MB).
#
#   tools/k8s/crds.sh   -> .../cert-manager@v1.21.2/deploy/crds/cert-manager.io_certificates.yaml
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../infra/lib.sh"

CERT_MANAGER_VERSION="v1.21.2"

command -v go >/dev/null || die "the Go toolchain is required to download the CRDs"
# Outside any module, so that this download never touches tools/k8s/*/go.mod.
dir="$(cd / && go mod download -json \
    "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -n "$dir" ]] || die "go mod download of cert-manager $CERT_MANAGER_VERSION gave no directory"
crd="$dir/deploy/crds/cert-manager.io_certificates.yaml"
[[ -f "$crd" ]] || die "cert-manager $CERT_MANAGER_VERSION has no $crd"
echo "$crd"
