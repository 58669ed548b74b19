#!/usr/bin/env bash
# Build a local stand-in for the public Python slim base image, for machines that cannot pull images.
#
# debootstraps this machine's Debian release (minbase + python3 + python3-venv) from the Debian mirror
# apt already uses and imports the tree with `docker import`. The tarball is cached, so a rebuild after
# `docker image rm` (or on a new engine) only re-imports it. Run as root (debootstrap needs it).
#
#   containers/build-base.sh [--force]        # --force: debootstrap again even if image/tarball exist
#
# Environment: EOESIM_BASE_IMAGE (image tag; default eoesim-base:<codename>), EOESIM_BUILD_CACHE (cache dir;
# default ${XDG_CACHE_HOME:-~/.cache}/eoesim), DEBIAN_MIRROR (default: the mirror in apt's sources),
# DEBIAN_SUITE (default: VERSION_CODENAME from /etc/os-release).
# Then: docker build --build-arg BASE=<image> ...  (containers/build-image.sh does this).
set -euo pipefail

die() { echo "build-base.sh: $*" >&2; exit 1; }

force=
[ "${1:-}" = "--force" ] && force=1

# shellcheck disable=SC1091
. /etc/os-release
suite=${DEBIAN_SUITE:-${VERSION_CODENAME:-}}
[ -n "$suite" ] || die "cannot tell the Debian release (no VERSION_CODENAME in /etc/os-release); set DEBIAN_SUITE"
image=${EOESIM_BASE_IMAGE:-eoesim-base:$suite}
cache=${EOESIM_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eoesim}
tarball="$cache/base-$suite-$(uname -m).tar"

mirror() {
    # The first Debian mirror apt is configured with (deb822 or one-line format).
    local uri
    if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
    [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed); start dockerd first"

if [ -z "$force" ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "base image $image exists ($(docker image inspect --format '{{.Id}}' "$image")); --force rebuilds it"
    exit 0
fi

if [ -n "$force" ] || [ ! -s "$tarball" ]; then
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
    if ! command -v debootstrap >/dev/null; then
        command -v apt-get >/dev/null || die "debootstrap is not installed and there is no apt-get"
        apt-get install -y -q debootstrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q debootstrap >/dev/null; } \
            || die "cannot install debootstrap"
    fi
    mkdir -p "$cache"
    root=$(mktemp -d "$cache/rootfs.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    url=$(mirror)
    echo "debootstrap $suite from $url (a minute or two) ..."
    debootstrap --variant=minbase --include=python3,python3-venv "$suite" "$root" "$url" \
        >"$cache/debootstrap.log" 2>&1 || die "debootstrap failed; see $cache/debootstrap.log:
$(tail -15 "$cache/debootstrap.log")"
    rm -rf "${root:?}"/var/cache/apt/archives/*.deb "${root:?}"/var/lib/apt/lists/* "${root:?}"/tmp/* "${root:?}"/dev/*
    tar --numeric-owner -C "$root" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
fi

docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "debootstrap --variant=minbase --include=python3,python3-venv $suite" \
    "$tarball" "$image" >/dev/null
echo "imported $image ($(docker image inspect --format '{{.Id}}' "$image")) from $tarball"
