#!/bin/sh
# Container entry point: every argument goes to ti2v-datagen, so
#   docker run IMAGE regenerate cater-gen-v2 --out /data
# works. Run with --user "$(id -u):$(id -g)" to own the output; an unknown uid has no home, so caches go to /tmp.
set -eu
if [ -z "${HOME:-}" ] || [ ! -w "${HOME}" ]; then
  HOME=/tmp
  export HOME
fi
exec ti2v-datagen "$@"
