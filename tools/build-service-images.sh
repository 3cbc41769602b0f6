#!/usr/bin/env bash
# Builds the container image of every Casedesk service, tagged with the project version.
#
#   tools/build-service-images.sh              # all five services
#   tools/build-service-images.sh case notify  # a subset
#
# Environment:
#   CASEDESK_IMAGE_PREFIX   repository prefix (default "casedesk" -> casedesk/case:<version>)
#   CASEDESK_BASE_IMAGE     base image (default casedesk/debian:bookworm, built by
#                           tools/infra/images/build-base.sh)
#   CASEDESK_BUILD_CA_DIR   directory of extra *.crt CAs trusted while downloading packages in the
#                           builder stage (default /usr/local/share/ca-certificates, the place
#                           Debian keeps locally added CAs; needed behind TLS-inspecting proxies)
#
# The build context is streamed as a tar of what the images need (sources, manifests, uv.lock and
# the generated protobuf code), so the virtualenv, .git and caches never reach the Docker daemon.
set -euo pipefail

ALL_SERVICES=(intake case sla escalation notify)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

prefix="${CASEDESK_IMAGE_PREFIX:-casedesk}"
base_image="${CASEDESK_BASE_IMAGE:-casedesk/debian:bookworm}"
ca_dir="${CASEDESK_BUILD_CA_DIR:-/usr/local/share/ca-certificates}"

log() { echo "build-service-images: $*" >&2; }
die() { log "$*"; exit 1; }

version="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' pyproject.toml)"
[[ -n "${version}" ]] || die "no [project].version in pyproject.toml"

services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=("${ALL_SERVICES[@]}")
for name in "${services[@]}"; do
    [[ " ${ALL_SERVICES[*]} " == *" ${name} "* ]] || die "unknown service '${name}' (one of: ${ALL_SERVICES[*]})"
done

docker image inspect "${base_image}" >/dev/null 2>&1 \
    || die "base image ${base_image} not found: build it with tools/infra/images/build-base.sh"

# Regenerate only when stale: gen_proto.py replaces the whole tree, which would pull the rug from
# under tests running meanwhile in the same working tree.
marker="proto/gen/python/casedesk/__init__.py"
if [[ ! -f "${marker}" ]] || [[ -n "$(find proto/casedesk -name '*.proto' -newer "${marker}" -print -quit)" ]]; then
    log "generating protobuf code"
    uv run --frozen python tools/gen_proto.py >&2
fi

workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT

# Tracked and new (not ignored) files of the workspace members, minus their tests, plus the
# gitignored generated code. Files deleted from the working tree are dropped.
{
    git ls-files --cached --others --exclude-standard -- pyproject.toml uv.lock proto libs services \
        | grep -Ev '(^|/)tests/|(^|/)__pycache__/' || true
    find proto/gen/python -type f -not -path '*/__pycache__/*'
} | sort -u | while IFS= read -r path; do
    if [[ -f "${path}" ]]; then printf '%s\n' "${path}"; fi
done >"${workdir}/files"
tar -cf "${workdir}/context.tar" -T "${workdir}/files"
log "build context: $(wc -l <"${workdir}/files") files, $(du -h "${workdir}/context.tar" | cut -f1)"

extra_ca=""
if compgen -G "${ca_dir}/*.crt" >/dev/null; then
    extra_ca="$(cat "${ca_dir}"/*.crt)"
fi

built=()
skipped=()
failed=()
for name in "${services[@]}"; do
    if [[ ! -f "services/${name}/pyproject.toml" ]]; then
        log "skipping ${name}: services/${name}/pyproject.toml does not exist yet"
        skipped+=("${name}")
        continue
    fi
    [[ -f "services/${name}/Dockerfile" ]] || die "services/${name}/Dockerfile is missing"
    # The image installs exactly what uv.lock pins (uv sync --frozen).
    if ! grep -qx "name = \"casedesk-${name}\"" uv.lock; then
        log "FAILED ${name}: casedesk-${name} is not in uv.lock yet (run 'uv lock' and commit it)"
        failed+=("${name}")
        continue
    fi
    image="${prefix}/${name}:${version}"
    log "building ${image}"
    if ! docker build --network host \
        --file "services/${name}/Dockerfile" \
        --build-arg "BASE_IMAGE=${base_image}" \
        --build-arg "VERSION=${version}" \
        --build-arg "EXTRA_CA_CERTS=${extra_ca}" \
        --tag "${image}" \
        - <"${workdir}/context.tar"; then
        log "FAILED to build ${image}"
        failed+=("${name}")
        continue
    fi
    # Smoke check under the constraints the chart imposes: non-root, read-only root file system,
    # no network. The entrypoint module must at least be found.
    if ! docker run --rm --network none --read-only --tmpfs /tmp --tmpfs /var/lib/casedesk \
        --cap-drop ALL --security-opt no-new-privileges "${image}" \
        python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('casedesk_${name}.__main__') is None)"; then
        log "FAILED ${image}: module casedesk_${name}.__main__ not found in the image"
        failed+=("${name}")
        continue
    fi
    built+=("${image}")
done

log "built: ${built[*]:-none}; skipped: ${skipped[*]:-none}; failed: ${failed[*]:-none}"
[[ ${#failed[@]} -eq 0 ]]
