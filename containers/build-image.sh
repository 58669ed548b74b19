#!/usr/bin/env bash
# Build the harness image from containers/Dockerfile, skipping the build when an image of exactly these
# sources already exists.
#
#   containers/build-image.sh                   # base: python:3.11-slim-bookworm (needs an image registry)
#   containers/build-image.sh --local-base      # base: containers/build-base.sh (Debian mirror only)
#   containers/build-image.sh --base IMG --tag NAME:TAG
#
# Steps: (1) ask the base image for its Python and glibc, (2) fill a wheelhouse for them on the host
# (containers/wheelhouse.sh; cached in $EOESIM_BUILD_CACHE), (3) stage a build context with only what the
# Dockerfile copies (files git tracks or would track, plus the wheelhouse), (4) `docker build
# --network none`, tagged NAME:src-<sha256 of context + base id> and NAME:TAG (default eoesim:latest).
# The src- tag makes the build a no-op while nothing changed; older src- tags of NAME are removed.
# Prints the src- tag as the last line.
#
# Environment: EOESIM_BASE (default base), EOESIM_IMAGE (default eoesim:latest), EOESIM_BUILD_CACHE.
set -euo pipefail

die() { echo "build-image.sh: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
base=${EOESIM_BASE:-python:3.11-slim-bookworm}
tag=${EOESIM_IMAGE:-eoesim:latest}
cache=${EOESIM_BUILD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/eoesim}
local_base=
while [ $# -gt 0 ]; do
    case $1 in
        --local-base) local_base=1 ;;
        --base) base=$2; shift ;;
        --tag) tag=$2; shift ;;
        *) die "unknown argument $1 (usage: build-image.sh [--local-base] [--base IMAGE] [--tag NAME:TAG])" ;;
    esac
    shift
done
[[ $tag == *:* ]] || tag="$tag:latest"

docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed)"
if [ -n "$local_base" ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    base=${EOESIM_BASE_IMAGE:-eoesim-base:${DEBIAN_SUITE:-$VERSION_CODENAME}}
    "$here/build-base.sh" >&2
fi
docker image inspect "$base" >/dev/null 2>&1 || docker pull "$base" >&2 \
    || die "base image $base is not available and cannot be pulled; build a local one with --local-base"
base_id=$(docker image inspect --format '{{.Id}}' "$base")

# (1) the Python and glibc the wheels must fit
read -r py glibc < <(docker run --rm --network none "$base" python3 -c \
    'import platform, sys; print("%d.%d" % sys.version_info[:2], platform.libc_ver()[1])') \
    || die "cannot run python3 in the base image $base"

# (2) wheelhouse
mkdir -p "$cache"
wheels="$cache/wheels-py$py-glibc$glibc-$(uname -m)"
WHEEL_PYTHON=$py WHEEL_GLIBC=$glibc "$here/wheelhouse.sh" "$wheels" >&2

# (3) staged context: same layout as the repository, only the paths the Dockerfile copies
paths=(pyproject.toml requirements.lock README.md Snakefile Makefile external templates config analysis workflow
       containers/Dockerfile containers/requirements-build.txt)
ctx=$(mktemp -d "$cache/context.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    (cd "$repo" && git ls-files -z --cached --others --exclude-standard -- "${paths[@]}" \
        | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -C "$ctx" -xf -
else
    (cd "$repo" && tar --exclude=__pycache__ --exclude='*.egg-info' --exclude='*.pyc' -cf - "${paths[@]}") \
        | tar -C "$ctx" -xf -
fi
scalesim_version=$(sed -n 's/^scalesim==//p' "$repo/requirements.lock")
src_hash=$( (cd "$ctx" && find . -type f -print0 | sort -z | xargs -0 sha256sum;
             find . -type l -printf '%p -> %l\n' | sort; echo "$base_id $scalesim_version") | sha256sum | cut -c1-12)
src_tag="${tag%:*}:src-$src_hash"
cp -al "$wheels" "$ctx/containers/wheels" 2>/dev/null || cp -a "$wheels" "$ctx/containers/wheels"

# (4) build unless this exact image exists
if docker image inspect "$src_tag" >/dev/null 2>&1; then
    echo "image $src_tag exists (sources unchanged); not rebuilding" >&2
else
    echo "building $src_tag on $base ..." >&2
    docker build --network none --build-arg "BASE=$base" \
        --build-arg "SCALESIM_VERSION=$scalesim_version" -f "$ctx/containers/Dockerfile" -t "$src_tag" "$ctx" >&2 \
        || die "docker build failed"
fi
docker tag "$src_tag" "$tag"
# forget older builds of this name (their layers are shared or dangling; the deps stage cache stays)
for old in $(docker image ls --format '{{.Repository}}:{{.Tag}}' "${tag%:*}"); do
    if [[ $old == *:src-* && $old != "$src_tag" ]]; then docker image rm "$old" >/dev/null 2>&1 || true; fi
done
echo "$src_tag"
