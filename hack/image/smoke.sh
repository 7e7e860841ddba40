#!/usr/bin/env bash
# Runs the image's root filesystem the way a restricted pod does (read-only, user 65532, nothing
# but its own files, /proc and the fixtures) in a private mount namespace: `pruneguard --help`, and
# `pruneguard evaluate` of the committed penguins fixtures, which loads onnxruntime's native binary.
# Needs root (mounts); without it says so and does nothing. Usage: smoke.sh ROOTFS (from the repo root).
set -euo pipefail
rootfs="$(cd "${1:?usage: smoke.sh ROOTFS}" && pwd)"
repo="$(pwd)"
if [ "$(id -u)" != 0 ]; then
  echo "smoke.sh: not root, so the image was not run (mounts need root)" >&2
  exit 0
fi
export rootfs repo
unshare --mount --propagation private --fork bash -euo pipefail -c '
  mnt="$(mktemp -d)"
  mount --bind "$rootfs" "$mnt"
  mount -o remount,bind,ro "$mnt"
  mount -t proc proc "$mnt/proc"
  mount --bind "$repo" "$mnt/tmp"
  mount -o remount,bind,ro "$mnt/tmp"
  in_image() { cd / && chroot --userspec=65532:65532 "$mnt" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin "$@"; }
  in_image pruneguard --help > /dev/null
  code=0
  in_image PRUNEGUARD_MEASUREMENT=quick pruneguard evaluate -f /tmp/examples/penguins/evaluation.yaml \
    > "$mnt.out" 2> "$mnt.err" || code=$?
  # 0 Pass, 3 Warning, 4 Critical, 5 Inconclusive: a graded report; anything else is a failure.
  case "$code" in 0|3|4|5) ;; *) cat "$mnt.out" "$mnt.err" >&2; echo "smoke.sh: evaluate exited $code" >&2; exit 1 ;; esac
  echo "smoke.sh: read-only, uid 65532: pruneguard --help and evaluate ($(head -1 "$mnt.out")) ran" >&2
  rm -f "$mnt.out" "$mnt.err"
'
