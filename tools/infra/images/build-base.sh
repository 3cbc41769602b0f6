#!/usr/bin/env bash
# Build casedesk/debian:bookworm, the base of our local images, with debootstrap (run as root).
# No container registry is reachable, so the base is assembled from Debian packages fetched from
# the same mirror the machine's apt uses. Skipped when the tag exists, unless FORCE=1.
# shellcheck source=tools/infra/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

tag="${CASEDESK_BASE_IMAGE:-casedesk/debian:bookworm}"
suite="bookworm"

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
    exit 0
fi
[[ "$(id -u)" == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (run tools/infra/bootstrap.sh)"

# first_uri SUITE: the first apt source URI serving exactly SUITE, from deb822 or one-line files.
first_uri() {
    local wanted="$1"
    {
        for f in /etc/apt/sources.list.d/*.sources; do
            [[ -r "$f" ]] || continue
            awk -v want="$wanted" '
                /^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
                tolower($1) == "uris:" { uri = $2 }
                tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == want) hit = 1 }
                END { if (uri != "" && hit) print uri }' "$f"
        done
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [[ -r "$f" ]] || continue
            sed -E 's/\[[^]]*\]//' "$f" | awk -v want="$wanted" '$1 == "deb" && $3 == want { print $2 }'
        done
    } | head -n1
}

mirror="$(first_uri "$suite")"
[[ -n "$mirror" ]] || die "no apt source for '$suite' found in /etc/apt; cannot choose a mirror"
security="$(first_uri "$suite-security")"

rootfs="$(mktemp -d "${TMPDIR:-/var/tmp}/casedesk-rootfs.XXXXXX")"
cleanup() {
    # debootstrap mounts /proc and /sys inside the target; never rm -rf through a live mount.
    grep -o " $rootfs/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT

log "debootstrap $suite (minbase) from $mirror"
debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
    { show_tail "$rootfs.log"; rm -f "$rootfs.log"; die "debootstrap failed"; }
rm -f "$rootfs.log"

# Same sources as the machine: the main suite, its updates, and security fixes when configured.
rm -f "$rootfs/etc/apt/sources.list"
{
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$suite" "$suite"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n "$security" ]]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$suite"
        printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
} >"$rootfs/etc/apt/sources.list.d/debian.sources"

# Images built on this base stay small: no recommends, no package lists, no docs or man pages.
cat >"$rootfs/etc/apt/apt.conf.d/90casedesk-slim" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CONF
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90casedesk-slim" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CONF
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*

log "importing $tag"
tar --numeric-owner -C "$rootfs" -c . |
    docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $suite" - "$tag" >/dev/null
log "built $tag"
