#!/usr/bin/env bash
# The local base image for builds where Docker Hub cannot be reached: Debian bookworm (minbase) with its Python 3.11
# (3.11.2; bpy 5.0.1 needs exactly 3.11), pip and venv, made with debootstrap and imported into the running engine.
# Prints the image name, ti2v-base:bookworm-<hash>. The tag is a hash of this file and the mirror, so a rerun on
# the same machine finds the image and does nothing (about a minute and 300 MB the first time).
#   BASE="$(docker/local-base.sh)"
#   DOCKER_BUILDKIT=1 docker build -f docker/Dockerfile --build-arg BASE="$BASE" -t ti2v:cpu .
# Needs root, debootstrap (apt-get install debootstrap) and network access to the Debian mirror.
set -euo pipefail
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER="${DOCKER:-docker}"
SUITE=bookworm
INCLUDE=python3,python3-venv,python3-pip,ca-certificates
key="$( { cat "$0"; echo "$MIRROR"; } | sha256sum | cut -c1-12)"
name="ti2v-base:$SUITE-$key"
if "$DOCKER" image inspect "$name" > /dev/null 2>&1; then
  echo "$name"
  exit 0
fi
command -v debootstrap > /dev/null || { echo "local-base.sh: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
rootfs="$(mktemp -d /var/tmp/ti2v-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$rootfs" "$MIRROR" > "$rootfs.log" 2>&1 \
  || { tail -20 "$rootfs.log" >&2; rm -f "$rootfs.log"; exit 1; }
rm -f "$rootfs.log"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/* "$rootfs"/var/log/*.log
# What python:3.11-slim sets and a docker import does not: PATH (the Dockerfiles prepend to it) and a UTF-8 locale.
tar -C "$rootfs" --numeric-owner -c . | "$DOCKER" import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["/bin/bash"]' \
  -m "debootstrap --variant=minbase --include=$INCLUDE $SUITE $MIRROR" - "$name" > /dev/null
echo "$name"
