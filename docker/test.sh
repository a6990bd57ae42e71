#!/usr/bin/env bash
# make docker-test: build the images for real and prove a container's regenerate equal to the host's.
#  1. Engine: installs docker.io and debootstrap (apt) when missing, starts dockerd when it is not running, and
#     stops at exit only what it started.
#  2. Base: docker/local-base.sh (Debian bookworm minbase, Python 3.11; Docker Hub is out of reach), cached by content.
#  3. docker/wheels: docker/fill-wheels.sh (pip download, with this machine's pip settings, of the images' pinned
#     dependencies: torch and torchvision from the local wheels); nothing to do when it is complete already.
#  4. Builds docker/Dockerfile (CPU) and docker/Dockerfile.gpu with CUDA=0 (its CUDA base cannot be pulled here) on
#     the local base, the registry settings and CA bundle as BuildKit secrets.
#  5. Image checks: size, non-root user, no compilers, no pip settings left in it, `--help` with a read-only root.
#  6. Regenerates mnist-modified and a tiny cater-gen-v2 on the host (.venv, this checkout) and in the container
#     (read-only root, tmpfs /tmp, your uid), then `ti2v-datagen verify CONTAINER --against HOST` and
#     docker/compare_builds.py: MNIST byte for byte; CATER plans, captions and annotations byte for byte, pixels
#     when the render settings agree (it says whether they did).
# Needs root and a .venv (make venv); about 6 minutes on a fresh machine, 10 s when nothing changed. The containers
# run with --network none. TI2V_DOCKERD_ARGS: extra arguments for a dockerd this script starts (another socket and
# data root, with DOCKER_HOST); TI2V_BUILD_NETWORK: docker build --network (host, where that dockerd has no bridge).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
CPU_IMAGE="${CPU_IMAGE:-ti2v-test:cpu}"
GPU_IMAGE="${GPU_IMAGE:-ti2v-test:gpu-nocuda}"
MNIST=(regenerate mnist-modified --scale 0.001 --digits sklearn)
CATER=(regenerate cater-gen-v2 --scale 0.0002 --splits test --set resolution=32 --set samples=2 --set frames=4
       --set shard_size=1 --set objects=3-4 --set threads=1)

t0=$SECONDS
say() { printf '[docker-test %4ds] %s\n' $((SECONDS - t0)) "$*"; }
fail() { echo "docker-test: FAIL $*" >&2; exit 1; }
work="$(mktemp -d /var/tmp/ti2v-docker-test.XXXXXX)"
dockerd_pid=""
cleanup() {
  if [ -n "$dockerd_pid" ]; then
    say "stopping the dockerd this test started (pid $dockerd_pid)"
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ "$(id -u)" = 0 ] || fail "needs root (apt-get, dockerd)"
[ -x "$VENV/bin/ti2v-datagen" ] || fail "no $VENV/bin/ti2v-datagen: run make venv first"

# 1. Engine. docker.io's own client (the daemon's version, with the classic BuildKit builder): a newer docker CLI
# elsewhere on PATH wants the buildx plugin for BuildKit.
DOCKER=/usr/bin/docker
missing=()
{ [ -x "$DOCKER" ] && command -v dockerd > /dev/null; } || missing+=(docker.io)
command -v debootstrap > /dev/null || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" > "$work/apt.log" 2>&1 \
    || { apt-get update -q > "$work/apt.log" 2>&1 && apt-get install -y -q "${missing[@]}" >> "$work/apt.log" 2>&1; } \
    || { tail -20 "$work/apt.log" >&2; fail "apt-get install ${missing[*]}"; }
fi
if "$DOCKER" info > /dev/null 2>&1; then
  say "Docker engine already running: $("$DOCKER" version -f 'server {{.Server.Version}}')"
else
  # shellcheck disable=SC2086
  dockerd ${TI2V_DOCKERD_ARGS:-} > "$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 60); do "$DOCKER" info > /dev/null 2>&1 && break; sleep 1; done
  "$DOCKER" info > /dev/null 2>&1 || { tail -20 "$work/dockerd.log" >&2; fail "dockerd did not come up"; }
  say "started dockerd (pid $dockerd_pid): server $("$DOCKER" version -f '{{.Server.Version}}'), storage $("$DOCKER" info -f '{{.Driver}}')"
fi

# 2. Base image.
t=$SECONDS
BASE="$(DOCKER="$DOCKER" docker/local-base.sh)"
say "base image $BASE ($((SECONDS - t))s; $("$DOCKER" image inspect -f '{{.Comment}}' "$BASE"))"

# 3. Local wheels.
t=$SECONDS
say "$(docker/fill-wheels.sh "$VENV/bin/python") ($((SECONDS - t))s)"

# 4. Builds. BuildKit secrets: pip's settings file and the CA bundle it names (or PIP_CERT); neither lands in a layer.
pipconf="${PIP_CONFIG_FILE:-/etc/pip.conf}"
ca="${PIP_CERT:-$(sed -n 's/^[[:space:]]*cert[[:space:]]*=[[:space:]]*//p' "$pipconf" 2>/dev/null | tail -1)}"
secrets=()
[ -f "$pipconf" ] && secrets+=(--secret "id=pip.conf,src=$pipconf")
[ -n "$ca" ] && [ -f "$ca" ] && secrets+=(--secret "id=pip-ca,src=$ca")
build() {  # build NAME IMAGE DOCKERFILE [ARGS...]
  local name=$1 image=$2 file=$3 t=$SECONDS
  shift 3
  DOCKER_BUILDKIT=1 "$DOCKER" build --progress=plain ${TI2V_BUILD_NETWORK:+--network "$TI2V_BUILD_NETWORK"} -f "$file" --build-arg BASE="$BASE" "${secrets[@]}" "$@" \
    -t "$image" . > "$work/build-$name.log" 2>&1 || { tail -40 "$work/build-$name.log" >&2; fail "docker build $file"; }
  say "built $image from $file${*:+ $*} in $((SECONDS - t))s ($(grep -c '^#[0-9]* CACHED' "$work/build-$name.log") steps cached)"
}
build cpu "$CPU_IMAGE" docker/Dockerfile
build gpu "$GPU_IMAGE" docker/Dockerfile.gpu --build-arg CUDA=0

# 5. Image checks.
size="$("$DOCKER" image inspect -f '{{.Size}}' "$CPU_IMAGE")"
user="$("$DOCKER" image inspect -f '{{.Config.User}}' "$CPU_IMAGE")"
case "$user" in ""|0|0:*|root|root:*) fail "$CPU_IMAGE runs as root (USER '$user')" ;; esac
for image in "$CPU_IMAGE" "$GPU_IMAGE"; do
  "$DOCKER" run --rm --network none --read-only --tmpfs /tmp "$image" --help | grep -q '^Usage: ti2v-datagen' \
    || fail "docker run $image --help"
done
# shellcheck disable=SC2016
"$DOCKER" run --rm --network none --read-only --entrypoint /bin/sh "$CPU_IMAGE" -c '
  found=""; for c in gcc cc c++ g++ clang make cmake ld as; do command -v "$c" > /dev/null && found="$found $c"; done
  [ -z "$found" ] || { echo "build tools in the image:$found"; exit 1; }
  [ ! -e /etc/pip.conf ] && [ -z "$(ls -A /run/secrets 2>/dev/null)" ] || { echo "pip settings left in the image"; exit 1; }' \
  || fail "$CPU_IMAGE is not clean"
say "image $CPU_IMAGE: $(awk -v b="$size" 'BEGIN { printf "%.2f GB", b / 1e9 }'), user $user, no compilers or build tools, no pip settings, --help runs on a read-only root (and $GPU_IMAGE's)"

# 6. The same regenerate on the host and in the container, from the same source.
t=$SECONDS
host="$work/host" cont="$work/container"
mkdir -p "$host" "$cont"
src_digest='import hashlib, pathlib, sys
root, h, n = pathlib.Path(sys.argv[1]), hashlib.sha256(), 0
for sub in ("datagen", "templates"):
    for p in sorted((root / sub).rglob("*")):
        if p.suffix in (".py", ".yaml"):
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes()); n += 1
print(n, "files", h.hexdigest()[:16])'
image_src="$("$DOCKER" run --rm --network none --read-only --entrypoint python "$CPU_IMAGE" -c "$src_digest" /opt/ti2v/lib/python3.11/site-packages/ti2v)"
"$VENV/bin/ti2v-datagen" "${MNIST[@]}" --out "$host/mnist-modified" > "$work/host.log" 2>&1 \
  && "$VENV/bin/ti2v-datagen" "${CATER[@]}" --out "$host/cater-gen-v2" >> "$work/host.log" 2>&1 \
  || { tail -20 "$work/host.log" >&2; fail "regenerate on the host"; }
host_src="$("$VENV/bin/python" -c "$src_digest" .)"
[ "$image_src" = "$host_src" ] || fail "the image's datagen/templates ($image_src) are not this checkout's ($host_src): changed during the test?"
say "host builds done ($((SECONDS - t))s); source of image and host equal: $host_src"
t=$SECONDS
run=("$DOCKER" run --rm --network none --read-only --tmpfs /tmp -u "$(id -u):$(id -g)" -v "$cont:/data" "$CPU_IMAGE")
in_container() {  # in_container NAME ARGS...: regenerate NAME into OUT/NAME, printing all but the progress bars
  local name=$1
  shift
  echo "+ docker run --rm --network none --read-only --tmpfs /tmp -u $(id -u):$(id -g) -v OUT:/data $CPU_IMAGE $* --out /data/$name"
  "${run[@]}" "$@" --out "/data/$name" > "$work/container-$name.log" 2>&1 \
    || { tail -20 "$work/container-$name.log" >&2; fail "regenerate $name in the container"; }
  tr '\r' '\n' < "$work/container-$name.log" | grep -v '%|' || true
}
in_container mnist-modified "${MNIST[@]}"
in_container cater-gen-v2 "${CATER[@]}"
say "container builds done ($((SECONDS - t))s)"
for d in mnist-modified cater-gen-v2; do
  echo "+ ti2v-datagen verify OUT/$d --against HOST/$d"
  "$VENV/bin/ti2v-datagen" verify "$cont/$d" --against "$host/$d" || fail "verify $d --against the host's"
done
echo "+ docker/compare_builds.py HOST OUT"
"$VENV/bin/python" docker/compare_builds.py "$host" "$cont" || fail "the container's builds are not the host's"
say "docker-test passed: $CPU_IMAGE $(awk -v b="$size" 'BEGIN { printf "%.2f GB", b / 1e9 }'), total $((SECONDS - t0))s"
