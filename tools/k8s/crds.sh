#!/usr/bin/env bash
# Prints the path of each CustomResourceDefinition the chart's objects need on a bare API server
# (tests/k8s), one a line. The production values render cert-manager Certificates and the
# Prometheus Operator's ServiceMonitors and PrometheusRule; their CRDs, with their full OpenAPI
# schemas, ship in the projects' Go modules, so the Go module proxy serves them (checked against
# the Go checksum database) and the module cache keeps them: only the first run downloads them
# (cert-manager 4 MB, prometheus-operator 27 MB unpacked).
#
#   tools/k8s/crds.sh   -> .../cert-manager@v1.21.2/deploy/crds/cert-manager.io_certificates.yaml
#                          .../prometheus-operator@v0.85.0/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml
#                          .../prometheus-operator@v0.85.0/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../infra/lib.sh"

CERT_MANAGER_VERSION="v1.21.2"
PROMETHEUS_OPERATOR_VERSION="v0.85.0"

command -v go >/dev/null || die "the Go toolchain is required to download the CRDs"

# The unpacked module's directory; outside any module, so that this download never touches
# tools/k8s/*/go.mod.
module_dir() {
    local module="$1" dir
    dir="$(cd / && go mod download -json "$module" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$dir" ]] || die "go mod download of $module gave no directory"
    echo "$dir"
}

crd() {
    local file="$1"
    [[ -f "$file" ]] || die "no CRD at $file"
    echo "$file"
}

cert_manager="$(module_dir "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")"
crd "$cert_manager/deploy/crds/cert-manager.io_certificates.yaml"
operator="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")"
crd "$operator/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
crd "$operator/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
