#!/usr/bin/env bash
# Builds the pinned Helm 3 CLI from source (no binary download site is reachable, the Go module
# proxy is) and prints the path of the binary on stdout. Idempotent: an existing build is reused.
#
#   helm="$(tools/helm.sh)" && "$helm" lint --strict deploy/helm/casedesk
#
# Environment: CASEDESK_CACHE_DIR (default ~/.cache/casedesk) holds bin/helm-<version>.
set -euo pipefail

HELM_VERSION="v3.21.4"
# Helm's release Makefile stamps the Kubernetes version of its client-go (v0.36 -> 1.36) into the
# binary; a plain `go install` would leave the source default (1.20), and then `helm template`
# would render against Capabilities too old for the chart's kubeVersion. Keep in step with
# HELM_VERSION.
HELM_K8S_MAJOR="1"
HELM_K8S_MINOR="36"

cache_dir="${CASEDESK_CACHE_DIR:-${HOME}/.cache/casedesk}"
bin_dir="${cache_dir}/bin"
helm_bin="${bin_dir}/helm-${HELM_VERSION}"

if [[ -x "${helm_bin}" ]]; then
    echo "${helm_bin}"
    exit 0
fi

command -v go >/dev/null 2>&1 || {
    echo "tools/helm.sh: the Go toolchain is required to build helm ${HELM_VERSION}" >&2
    exit 1
}

mkdir -p "${bin_dir}"
# Build into a private directory and move into place atomically, so that two concurrent callers
# never see a half-written binary.
work_dir="$(mktemp -d "${bin_dir}/.helm-build.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT

ldflags="-s -w"
ldflags+=" -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
    ldflags+=" -X ${pkg}.k8sVersionMajor=${HELM_K8S_MAJOR} -X ${pkg}.k8sVersionMinor=${HELM_K8S_MINOR}"
done

echo "tools/helm.sh: building helm ${HELM_VERSION} (a few minutes on two cores)..." >&2
GOBIN="${work_dir}" CGO_ENABLED=0 go install -trimpath -ldflags "${ldflags}" \
    "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}" >&2
mv -f "${work_dir}/helm" "${helm_bin}"
ln -sfn "helm-${HELM_VERSION}" "${bin_dir}/helm"
echo "${helm_bin}"
