#!/usr/bin/env bash
# CI's Docker check without a Docker engine: lint both Dockerfiles, then install the package non-editable into a
# clean venv (as the image does) and run the image's entry point itself at a tiny scale.
set -euo pipefail
cd "$(dirname "$0")/.."
HADOLINT="${HADOLINT:-.venv/bin/hadolint}"
"$HADOLINT" docker/Dockerfile docker/Dockerfile.gpu
echo "hadolint: both Dockerfiles clean"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3.11 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet ".[render]" 2>&1 | grep -v "is ignored" || true
export PATH="$work/venv/bin:$PATH"
cd "$work"  # away from the checkout: imports must come from the installed wheel
python - <<'PY'
import ti2v.datagen, ti2v.models, ti2v.benchmark, ti2v.templates, sys
for m in (ti2v.datagen, ti2v.models, ti2v.benchmark, ti2v.templates):
    assert "site-packages" in m.__file__, m.__file__
assert ti2v.templates.load("captions/mnist.yaml")["single"]
print("non-editable install imports from", ti2v.datagen.__file__)
PY
ep="$OLDPWD/docker/entrypoint.sh"
"$ep" --help > /dev/null
"$ep" regenerate mnist-modified --out "$work/data" --scale 0.001 --digits sklearn --set shard_size=8
"$ep" verify "$work/data"
"$ep" regenerate cater-gen-v2 --out "$work/cater" --scale 0.0002 --splits test \
      --set resolution=32 --set samples=2 --set frames=4 --set shard_size=1 --set objects=3-4
"$ep" verify "$work/cater"
echo "entry point: regenerate + verify OK in a clean venv"
