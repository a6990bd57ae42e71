#!/usr/bin/env bash
# CI's Docker check without a Docker engine (make docker-test builds the images for real): lint both Dockerfiles,
# check that they share their stages, then install the package non-editable into a clean venv (as the image does)
# and run the image's entry point itself at a tiny scale.
set -euo pipefail
cd "$(dirname "$0")/.."
HADOLINT="${HADOLINT:-.venv/bin/hadolint}"
"$HADOLINT" docker/Dockerfile docker/Dockerfile.gpu
echo "hadolint: both Dockerfiles clean"
# Dockerfile.gpu repeats Dockerfile's stages word for word (so a GPU build reuses the CPU build's layers).
python3.11 - <<'PY'
def stages(path):
    text = open(path).read()
    body = text[text.index("FROM ${BASE} AS python"):]
    return body[:body.index('CMD ["--help"]')].replace("FROM python AS runtime\n", "FROM python\n")
assert stages("docker/Dockerfile") == stages("docker/Dockerfile.gpu"), "docker/Dockerfile.gpu's stages drifted from docker/Dockerfile's"
print("Dockerfile.gpu: the same stages as Dockerfile, plus its CUDA layer")
PY

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
