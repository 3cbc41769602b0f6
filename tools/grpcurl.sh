#!/usr/bin/env bash
# grpcurl, built with the Go toolchain from the module proxy (no binary download site is
# reachable), cached in ${CASEDESK_CACHE_DIR:-~/.cache/casedesk}/bin. Idempotent.
#
#   tools/grpcurl.sh                      # print the binary's path
#   tools/grpcurl.sh -plaintext 127.0.0.1:50051 list
#
# GRPCURL_VERSION selects the module version (default: latest); each version has its own binary.
set -euo pipefail

version="${GRPCURL_VERSION:-latest}"
cache_dir="${CASEDESK_CACHE_DIR:-${HOME}/.cache/casedesk}"
bin_dir="${cache_dir}/bin"
grpcurl_bin="${bin_dir}/grpcurl-${version}"

if [[ ! -x "${grpcurl_bin}" ]]; then
    command -v go >/dev/null 2>&1 || {
        echo "tools/grpcurl.sh: the Go toolchain is required to build grpcurl" >&2
        exit 1
    }
    mkdir -p "${bin_dir}"
    # Build privately and move into place atomically: concurrent callers never run a half binary.
    work_dir="$(mktemp -d "${bin_dir}/.grpcurl-build.XXXXXX")"
    trap 'rm -rf "${work_dir}"' EXIT
    GOBIN="${work_dir}" GOFLAGS="-trimpath" \
        go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@${version}" >&2
    mv -f "${work_dir}/grpcurl" "${grpcurl_bin}"
fi

if [[ $# -eq 0 ]]; then
    echo "${grpcurl_bin}"
else
    exec "${grpcurl_bin}" "$@"
fi
