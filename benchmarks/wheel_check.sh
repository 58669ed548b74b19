#!/usr/bin/env bash
# Checks that eoesim works as a built wheel, not only as an editable checkout: builds the wheel
# (python -m build), installs it into a fresh venv, lists the package data it carries, then validates and
# plans the default study from a directory that holds only a copy of config/.
# Usage: benchmarks/wheel_check.sh [WORKDIR]   (default: a new temporary folder, removed afterwards)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
if [[ $# -gt 0 ]]; then
    work=$1
    mkdir -p "$work"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi

# build from a copy of the files git knows (tracked, and untracked but not ignored): no stale build/ output,
# no results/ or .venv/ in the wheel
mkdir -p "$work/src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp -P --parents -t "$work/src")
"$python" -m venv "$work/build-env"
"$work/build-env/bin/pip" install --quiet build
"$work/build-env/bin/python" -m build --wheel --outdir "$work/dist" "$work/src" > "$work/build.log" 2>&1 \
    || { tail -n 40 "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/eoesim-*.whl)
echo "built $(basename "$wheel")"
"$python" - "$wheel" <<'PY'
import sys
import zipfile
from collections import Counter

names = zipfile.ZipFile(sys.argv[1]).namelist()
kinds = Counter("/".join(n.split("/")[:2]) for n in names if not n.endswith(".py") and n.startswith("eoesim/"))
for kind, count in sorted(kinds.items()):
    print(f"  package data {kind}: {count} file(s)")
PY

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet "$wheel"
mkdir -p "$work/project"
cp -r "$root/config" "$work/project/"
cd "$work/project"
echo "in $PWD (a copy of config/ only):"
"$work/venv/bin/eoesim" --version
"$work/venv/bin/eoesim" validate config/config.yaml
