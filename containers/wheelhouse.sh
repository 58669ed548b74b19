#!/usr/bin/env bash
# Fill a wheelhouse with every pinned dependency (requirements.lock + containers/requirements-build.txt)
# as binary wheels for the image's Python, on the host. The Dockerfile installs from it with --no-index:
# pip inside a container build cannot reach the package index on every machine, and air-gapped clusters
# need exactly this. Only the host's pip talks to the index.
#
#   containers/wheelhouse.sh [DIR]            # default DIR: containers/wheels
#
# Environment: WHEEL_PYTHON (target Python version, default 3.11 = python:3.11-slim-bookworm and Debian
# bookworm), WHEEL_GLIBC (target glibc, default 2.36 = bookworm), PIP (default: the project's .venv pip,
# else `python3 -m pip`). containers/build-image.sh sets both targets from the base image it builds on.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
dir=${1:-$here/wheels}
py=${WHEEL_PYTHON:-3.11}
glibc=${WHEEL_GLIBC:-2.36}
arch=$(uname -m)
if [ -n "${PIP:-}" ]; then read -r -a pip <<<"$PIP"
elif [ -x "$repo/.venv/bin/pip" ]; then pip=("$repo/.venv/bin/pip")
else pip=(python3 -m pip)
fi

abi="cp${py/./}"
target=(--only-binary=:all: --implementation cp --python-version "$py" --abi "$abi" --abi abi3 --abi none
        --platform "manylinux2014_${arch}")   # pip expands this one to manylinux2010/1, but not manylinux_2_N:
for ((minor = ${glibc#*.}; minor >= 5; minor--)); do target+=(--platform "manylinux_2_${minor}_${arch}"); done
reqs=(-r "$repo/requirements.lock" -r "$here/requirements-build.txt")
mkdir -p "$dir"

check() {  # is every pin in the wheelhouse, as a wheel the image's Python can install? (offline)
    "${pip[@]}" download --quiet --no-index --find-links "$dir" --dest "$dir" "${target[@]}" "${reqs[@]}"
}
if check >/dev/null 2>&1; then
    echo "wheelhouse $dir complete ($(find "$dir" -name '*.whl' | wc -l) wheels, python $py, $arch)"
    exit 0
fi
# Wheels from the index, and wheels built here from the few pins published only as sdists
# (pure Python, e.g. connection_pool). Pins with compiled code must have wheels for the target.
"${pip[@]}" wheel --quiet --wheel-dir "$dir" "${reqs[@]}"
if ! check >"$dir/.check.log" 2>&1; then
    echo "wheelhouse.sh: the wheels built with ${pip[*]} do not fit the image's Python $py / glibc $glibc / $arch:" >&2
    grep -v "is ignored" "$dir/.check.log" | tail -5 >&2
    echo "run it with a pip of Python $py (e.g. PIP='python$py -m pip')" >&2
    exit 1
fi
rm -f "$dir/.check.log"
echo "wheelhouse $dir filled ($(find "$dir" -name '*.whl' | wc -l) wheels, python $py, $arch)"
