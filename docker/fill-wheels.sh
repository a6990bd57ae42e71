#!/usr/bin/env bash
# Fill docker/wheels (git-ignored) for the Docker builds: pip download, with this machine's pip settings, of the
# images' dependencies (pyproject.toml's pins with [render], the list the Dockerfiles derive) and of the wheel
# build's tools; torch and torchvision come from the local wheels where pip finds them there, the rest from pip's
# cache or the registry. Then it writes COMPLETE, after which the builds install the dependencies from the folder
# alone (--no-index). Does nothing when the folder is complete for this pyproject.toml already. The Python must be
# 3.11 on the image's platform (x86_64 glibc Linux):
#   docker/fill-wheels.sh [PYTHON]      # default .venv/bin/python
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
dir=docker/wheels
req="$(mktemp)"
trap 'rm -f "$req" "$req.log"' EXIT
"$PY" -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['render']))" > "$req"
printf '%s\n' build==1.2.2 'setuptools>=77' wheel >> "$req"
key="$(sha256sum < "$req" | cut -d' ' -f1)"
if [ "$(cat "$dir/COMPLETE" 2>/dev/null)" = "$key" ]; then
  echo "$dir: complete already ($(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1))"
  exit 0
fi
find "$dir" -mindepth 1 ! -name .keep -delete
"$PY" -m pip download --only-binary=:all: -d "$dir" -r "$req" > "$req.log" 2>&1 \
  || { grep -v "is ignored" "$req.log" | tail -20 >&2; echo "fill-wheels.sh: pip download failed" >&2; exit 1; }
echo "$key" > "$dir/COMPLETE"
echo "$dir: $(find "$dir" -name '*.whl' | wc -l) wheels, $(du -sh "$dir" | cut -f1)"
