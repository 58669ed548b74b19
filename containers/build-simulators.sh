#!/usr/bin/env bash
# Build simulator images from upstream source, one per simulator asked for:
#
#   containers/build-simulators.sh mqsim=<src> rapidchiplet=<src> ramulator=<src> gem5=<src>
#   containers/build-simulators.sh ramulator=<src> yaml-cpp=<src> spdlog=<src> argparse=<src>
#   containers/build-simulators.sh --force mqsim=<src>          # rebuild although the image exists
#
# <src> is a git checkout or a (bare) git mirror that holds the commit external/simulators.yaml pins (see
# containers/simulators/<sim>/source.env), or a URL git can clone where the network allows. The pinned
# commit's tree (only that: no build outputs, no local edits) is exported with `git archive` into a
# temporary build context and built with containers/simulators/<sim>/Dockerfile: a builder stage with the
# compilers, a runtime stage with the simulator only, on the local Debian base (containers/build-base.sh,
# made if missing), labelled org.opencontainers.image.revision=<commit> (and .source, .title, io.eoesim.base),
# running as a non-root user.
# Ramulator's three header/library dependencies come from yaml-cpp=/spdlog=/argparse= sources, else from
# <ramulator src>/ext/<name>, at the tags in its source.env. The image is tagged eoesim-<sim>:<commit[:7]>.
# The builder and runtime stages install Debian packages from the Debian mirror (no image registry), so
# `docker build` runs with --network host (EOESIM_SIM_BUILD_NETWORK overrides it).
# Prints, per image, the tag, the build time and the site config lines that use it.
set -euo pipefail

die() { echo "build-simulators.sh: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck disable=SC1091
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
base=${EOESIM_BASE_IMAGE:-eoesim-base:$suite}
network=${EOESIM_SIM_BUILD_NETWORK:-host}
force=
declare -A src=()
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        *=*) src[${arg%%=*}]=${arg#*=} ;;
        *) die "unknown argument '$arg'; allowed: --force and <simulator>=<git checkout, mirror or URL>" ;;
    esac
done
sims=()
for name in "${!src[@]}"; do
    if [ -f "$here/simulators/$name/Dockerfile" ]; then sims+=("$name")
    elif [ -z "$(grep -l "^DEPS=.*\b$name:" "$here"/simulators/*/source.env 2>/dev/null)" ]; then
        die "unknown simulator '$name'; allowed: $(cd "$here/simulators" && ls -d */ | tr -d / | tr '\n' ' ')"
    fi
done
[ ${#sims[@]} -gt 0 ] || die "nothing to build; usage: $0 [--force] mqsim=<src> rapidchiplet=<src> ramulator=<src> gem5=<src>"
command -v git >/dev/null || die "git is needed to export the pinned source tree"
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed); start dockerd first"
docker image inspect "$base" >/dev/null 2>&1 || EOESIM_BASE_IMAGE=$base "$here/build-base.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/eoesim-simbuild.XXXXXX")
trap 'rm -rf "$work"' EXIT

repo_of() {  # a local git repository for <src>: itself, or a bare clone of a URL
    local name=$1 from=$2
    if [ -d "$from" ]; then
        git -C "$from" rev-parse --git-dir >/dev/null 2>&1 || die "$name=$from is not a git checkout or mirror"
        echo "$from"
    else
        git clone --quiet --bare "$from" "$work/$name.git" >&2 || die "$name=$from: cannot clone it"
        echo "$work/$name.git"
    fi
}

export_tree() {  # export_tree <name> <repo> <ref> <dest> [paths...]
    local name=$1 repo=$2 ref=$3 dest=$4; shift 4
    git -C "$repo" cat-file -e "$ref^{commit}" 2>/dev/null \
        || die "$name: $repo does not hold $ref (the pinned version); fetch it or give another source"
    mkdir -p "$dest"
    git -C "$repo" archive --format=tar "$ref" "$@" | tar -x -C "$dest" \
        || die "$name: git archive of $ref failed"
}

for sim in "${sims[@]}"; do
    COMMIT= UPSTREAM= IMAGE= PATHS= DEPS=
    # shellcheck disable=SC1090
    . "$here/simulators/$sim/source.env"
    tag="$IMAGE:${COMMIT:0:7}"
    if [ -z "$force" ] && docker image inspect "$tag" >/dev/null 2>&1; then
        echo "$sim: $tag exists ($(docker image inspect --format '{{.Id}}' "$tag")); --force rebuilds it"
        continue
    fi
    repo=$(repo_of "$sim" "${src[$sim]}")
    ctx="$work/$sim"
    # shellcheck disable=SC2086
    export_tree "$sim" "$repo" "$COMMIT" "$ctx" $PATHS
    for dep in $DEPS; do
        name=${dep%%:*} ref=${dep#*:}
        from=${src[$name]:-${src[$sim]}/ext/$name}
        [ -e "$from" ] || [ -n "${src[$name]:-}" ] \
            || die "$sim needs $name ($ref): give $name=<git checkout or mirror> or clone it into ${src[$sim]}/ext/$name"
        export_tree "$name" "$(repo_of "$name" "$from")" "$ref" "$ctx/ext/$name"
    done
    echo "$sim: building $tag from ${src[$sim]} at $COMMIT (base $base) ..."
    start=$(date +%s)
    docker build --network "$network" -f "$here/simulators/$sim/Dockerfile" --build-arg BASE="$base" \
        --label org.opencontainers.image.title="$IMAGE" --label org.opencontainers.image.source="$UPSTREAM" \
        --label org.opencontainers.image.revision="$COMMIT" --label io.eoesim.base="$base" \
        -t "$tag" -t "$IMAGE:latest" "$ctx" \
        > "$work/$sim.log" 2>&1 || die "$sim: docker build failed:
$(tail -25 "$work/$sim.log")"
    echo "$sim: built $tag in $(( $(date +%s) - start )) s ($(docker image inspect --format '{{.Id}}' "$tag"))"
    case "$sim" in
        mqsim) echo "  site config: mqsim: {mode: docker, image: $tag}" ;;
        rapidchiplet) echo "  site config: rapidchiplet: {mode: docker, image: $tag}" ;;
        ramulator) echo "  site config: ramulator: {variant: v2.0, mode: docker, image: $tag}" ;;
        gem5) echo "  site config: garnet: {mode: docker, image: $tag, binary: /opt/gem5/build/Garnet_standalone/gem5.opt, configs: /opt/gem5/configs}" ;;
    esac
done
