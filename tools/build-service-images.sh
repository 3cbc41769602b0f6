#!/usr/bin/env bash
# Builds the container image of every Casedesk service and of the desk, tagged with the project
# version.
#
#   tools/build-service-images.sh              # the six services and the desk
#   tools/build-service-images.sh case notify  # a subset
#
# Environment:
#   CASEDESK_IMAGE_PREFIX   repository prefix (default "casedesk" -> casedesk/case:<version>)
#   CASEDESK_BASE_IMAGE     Debian base of the two Python bases (default casedesk/debian:bookworm,
#                           built by tools/infra/images/build-base.sh when missing)
#   CASEDESK_BUILD_CA_DIR   directory of extra *.crt CAs trusted while downloading packages (default
#                           /usr/local/share/ca-certificates, where Debian keeps locally added CAs;
#                           needed behind TLS-inspecting proxies); lent to the build as a BuildKit
#                           secret, never stored in an image
#   FORCE=1                 rebuild the Python bases from scratch (fresh Debian packages)
#
# Every image is built from two local bases, casedesk/python-builder and casedesk/python-runtime
# (tools/infra/images/python-*), rebuilt only when their inputs change. A service's build context
# holds its third-party requirements exported from uv.lock and only the workspace members it needs,
# so BuildKit reuses the dependency layer until the service's locked dependencies change and the
# whole image until one of its own members changes. BuildKit is required (cache and secret mounts).
set -euo pipefail

ALL_SERVICES=(intake case sla escalation notify keys desk)
# Where a service's names differ from casedesk-<name> (its package in uv.lock) and casedesk_<name>
# (its module): the key service's are taken by the library it owns (casedesk-keys, casedesk_keys).
declare -A PACKAGE=([keys]=casedesk-keys-service)
declare -A MODULE=([keys]=casedesk_keyservice)
package_of() { echo "${PACKAGE[$1]:-casedesk-$1}"; }
module_of() { echo "${MODULE[$1]:-casedesk_$1}"; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${root}"

prefix="${CASEDESK_IMAGE_PREFIX:-casedesk}"
base_image="${CASEDESK_BASE_IMAGE:-casedesk/debian:bookworm}"
ca_dir="${CASEDESK_BUILD_CA_DIR:-/usr/local/share/ca-certificates}"
images_dir="tools/infra/images"
builder_image="casedesk/python-builder:bookworm"
runtime_image="casedesk/python-runtime:bookworm"
# The label build-infra-images.sh gives its images, with the same meaning.
hash_label="org.casedesk.inputs-sha256"

log() { echo "build-service-images: $*" >&2; }
die() { log "$*"; exit 1; }

# BuildKit is part of the docker client up to version 22 and the buildx plug-in from 23 on; Debian's
# docker.io client (20.10) has it built in even where a newer client without buildx comes first.
buildkit_client() {
    local candidate version
    while IFS= read -r candidate; do
        if "${candidate}" buildx version >/dev/null 2>&1; then
            echo "${candidate}"
            return 0
        fi
        version="$("${candidate}" version --format '{{.Client.Version}}' 2>/dev/null || true)"
        if [[ "${version}" =~ ^([0-9]+)\. ]] && ((BASH_REMATCH[1] < 23)); then
            echo "${candidate}"
            return 0
        fi
    done < <(type -aP docker | awk '!seen[$0]++')
    return 1
}

version="$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' pyproject.toml)"
[[ -n "${version}" ]] || die "no [project].version in pyproject.toml"

services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=("${ALL_SERVICES[@]}")
for name in "${services[@]}"; do
    [[ " ${ALL_SERVICES[*]} " == *" ${name} "* ]] || die "unknown service '${name}' (one of: ${ALL_SERVICES[*]})"
done

docker="$(buildkit_client)" || die "no docker client with BuildKit: install the buildx plug-in (Debian: docker-buildx)"
bash "${images_dir}/build-base.sh"

# Regenerate only when stale: gen_proto.py replaces the whole tree, which would pull the rug from
# under tests running meanwhile in the same working tree.
marker="proto/gen/python/casedesk/__init__.py"
if [[ ! -f "${marker}" ]] || [[ -n "$(find proto/casedesk -name '*.proto' -newer "${marker}" -print -quit)" ]]; then
    log "generating protobuf code"
    uv run --frozen python tools/gen_proto.py >&2
fi

workdir="$(mktemp -d)"
trap 'rm -rf "${workdir}"' EXIT

secret=()
if compgen -G "${ca_dir}/*.crt" >/dev/null; then
    cat "${ca_dir}"/*.crt >"${workdir}/extra-ca.pem"
    secret=(--secret "id=extra-ca,src=${workdir}/extra-ca.pem")
fi

# buildkit LOG ARGS...: docker build with BuildKit on the host network (the engine has no bridge),
# its output in LOG, shown on failure.
buildkit() {
    local output="$1"
    shift
    if ! DOCKER_BUILDKIT=1 "${docker}" build --network host --progress plain "${secret[@]}" "$@" \
        >"${output}" 2>&1; then
        tail -n 40 "${output}" >&2
        return 1
    fi
}

# ensure_base TAG DIR: build tools/infra/images/DIR as TAG unless the image's label already holds the
# hash of DIR's files and of the Debian base image; FORCE=1 rebuilds it without BuildKit's cache.
ensure_base() {
    local tag="$1" context="${images_dir}/$2" wanted current started
    local fresh=()
    wanted="$({
        "${docker}" image inspect -f '{{.Id}}' "${base_image}"
        (cd "${context}" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    } | sha256sum | cut -d' ' -f1)"
    current="$("${docker}" image inspect -f "{{index .Config.Labels \"${hash_label}\"}}" "${tag}" 2>/dev/null || true)"
    if [[ "${FORCE:-0}" == 1 ]]; then
        fresh=(--no-cache)
    elif [[ "${current}" == "${wanted}" ]]; then
        return 0
    fi
    log "building ${tag}"
    started=${SECONDS}
    buildkit "${workdir}/$2.log" "${fresh[@]}" --label "${hash_label}=${wanted}" \
        --build-arg "BASE_IMAGE=${base_image}" --tag "${tag}" "${context}" \
        || die "building ${tag} failed"
    log "built ${tag} in $((SECONDS - started))s"
}

ensure_base "${builder_image}" python-builder
ensure_base "${runtime_image}" python-runtime

# Tracked and new (not ignored) files of the workspace members, minus their tests and Dockerfiles,
# plus the gitignored generated code. Files deleted from the working tree are dropped.
{
    git ls-files --cached --others --exclude-standard -- proto libs services \
        | grep -Ev '(^|/)tests/|(^|/)__pycache__/|(^|/)Dockerfile$' || true
    find proto/gen/python -type f -not -path '*/__pycache__/*'
} | sort -u | while IFS= read -r path; do
    if [[ -f "${path}" ]]; then printf '%s\n' "${path}"; fi
done >"${workdir}/files"

# stage_context NAME DIR: NAME's build context (see tools/infra/images/python-builder/Dockerfile).
stage_context() {
    local package dir="$2"
    package="$(package_of "$1")"
    mkdir -p "${dir}/workspace"
    # Workspace members are exported as their directories (./libs/runtime), everything else pinned
    # with hashes.
    uv export --quiet --frozen --no-dev --package "${package}" --no-editable \
        --no-header --no-annotate >"${dir}/export.txt"
    grep -v '^\./' "${dir}/export.txt" >"${dir}/requirements.txt"
    grep '^\./' "${dir}/export.txt" >"${dir}/workspace/workspace.txt"
    sed 's|^\./||' "${dir}/workspace/workspace.txt" \
        | awk 'NR == FNR { member[$0] = 1; next }
               { for (m in member) if (index($0, m "/") == 1) { print; next } }' - "${workdir}/files" \
        >"${dir}/files"
    tar -cf - -T "${dir}/files" | tar -xf - -C "${dir}/workspace"
}

image_id() { "${docker}" image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# dockerfile_of NAME: services/NAME/Dockerfile.
dockerfile_of() {
    [[ -f "services/$1/Dockerfile" ]] && echo "services/$1/Dockerfile"
}

# smoke_check NAME IMAGE: run IMAGE under the constraints the chart imposes: non-root, read-only
# root file system, no network, the data directory writable by the service's account (as the
# chart's volume is through fsGroup). The entrypoint module must at least be found; for the key
# service python-pkcs11's native extension must also load on the runtime base (it loads the HSM's
# library only when a token is opened, so no PKCS#11 module is needed for this).
smoke_check() {
    local module check
    module="$(module_of "$1")"
    check="import importlib.util, sys; sys.exit(importlib.util.find_spec('${module}.__main__') is None)"
    [[ "$1" == keys ]] && check="import pkcs11; ${check}"
    "${docker}" run --rm --network none --read-only --tmpfs /tmp \
        --tmpfs /var/lib/casedesk:uid=10001,gid=10001,mode=0750 \
        --cap-drop ALL --security-opt no-new-privileges "$2" \
        python -c "${check}"
}

built=()
skipped=()
failed=()
for name in "${services[@]}"; do
    if [[ ! -f "services/${name}/pyproject.toml" ]]; then
        log "skipping ${name}: services/${name}/pyproject.toml does not exist yet"
        skipped+=("${name}")
        continue
    fi
    dockerfile="$(dockerfile_of "${name}")" || die "services/${name}/Dockerfile is missing"
    # The image installs exactly what uv.lock pins.
    if ! grep -qx "name = \"$(package_of "${name}")\"" uv.lock; then
        log "FAILED ${name}: $(package_of "${name}") is not in uv.lock yet (run 'uv lock' and commit it)"
        failed+=("${name}")
        continue
    fi
    image="${prefix}/${name}:${version}"
    started=${SECONDS}
    previous="$(image_id "${image}")"
    stage_context "${name}" "${workdir}/${name}"
    if ! buildkit "${workdir}/${name}.log" --file "${dockerfile}" \
        --build-arg "VERSION=${version}" --tag "${image}" "${workdir}/${name}"; then
        log "FAILED to build ${image}"
        failed+=("${name}")
        continue
    fi
    # An image that failed its check loses its tag, so an unchanged image id means it passed.
    if [[ "$(image_id "${image}")" == "${previous}" ]]; then
        log "${image} is up to date ($((SECONDS - started))s)"
    elif ! smoke_check "${name}" "${image}"; then
        "${docker}" image rm "${image}" >/dev/null
        why="module $(module_of "${name}").__main__ not found"
        [[ "${name}" != keys ]] || why="${why}, or python-pkcs11 does not load"
        log "FAILED ${image}: its smoke check failed (${why})"
        failed+=("${name}")
        continue
    else
        log "built ${image} in $((SECONDS - started))s"
    fi
    built+=("${image}")
done

log "built: ${built[*]:-none}; skipped: ${skipped[*]:-none}; failed: ${failed[*]:-none}"
[[ ${#failed[@]} -eq 0 ]]
