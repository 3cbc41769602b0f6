#!/usr/bin/env bash
# Prepare a fresh Debian bookworm machine for Casedesk development and tests (run as root).
# Idempotent: installs only what is missing, then syncs the uv workspace and generates the protobuf
# code. Quiet on success; on failure prints the failing step's output and exits non-zero.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# docker.io runs the test containers, debootstrap builds their base image, kcat inspects topics,
# postgresql is the event store's fallback server, maven and the JRE fetch and run Kafka and
# Keycloak, chromium is the browser the desk's Playwright tests drive (by its executable path),
# softhsm2 is the PKCS#11 token that holds the key-encryption key in development and tests.
packages=(docker.io debootstrap kcat postgresql maven openjdk-17-jre-headless chromium softhsm2)

step_log="$(mktemp "${TMPDIR:-/tmp}/casedesk-bootstrap.XXXXXX")"
trap 'rm -f "$step_log"' EXIT

# quietly DESCRIPTION COMMAND...: run a step with its output kept aside unless it fails.
quietly() {
    local what="$1"
    shift
    if ! "$@" >"$step_log" 2>&1; then
        show_tail "$step_log" 60
        die "$what failed"
    fi
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

[[ "$(id -u)" == 0 ]] || die "run as root: it installs Debian packages"

missing=()
for package in "${packages[@]}"; do
    installed "$package" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    quietly "apt-get update" apt-get update -q
    quietly "apt-get install" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v uv >/dev/null; then
    log "installing uv"
    quietly "pip install uv" python3 -m pip install --quiet uv
fi

# pip may put uv where no PATH entry (or pyenv shim) reaches yet: fall back to the module.
uv=(uv)
command -v uv >/dev/null || uv=(python3 -m uv)

cd "$REPO_ROOT"
quietly "uv sync --all-packages" "${uv[@]}" sync --all-packages --frozen
quietly "protobuf generation" "${uv[@]}" run --frozen python tools/gen_proto.py
quietly "axe-core for the desk's accessibility check" bash services/desk/tests/a11y/install.sh
log "ready: uv run pytest tests/integration -q (tools/infra/README.md explains the infrastructure)"
