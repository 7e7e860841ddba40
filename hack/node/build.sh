#!/usr/bin/env bash
# Builds (or reuses) what a real node of the test ground runs besides Debian's containerd, runc and
# CNI plugins (hack/node/install.sh): kubelet and kube-proxy from the same k8s.io/kubernetes module
# and replace list as the control plane (hack/controlplane), and the pause image compiled from that
# module's build/pause/linux/pause.c. Cached per version outside the work tree; nothing is
# downloaded but Go modules. Prints the cache directory on its last line.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
module="$here/../controlplane"
cd "$module"

# shellcheck source=../controlplane/kubernetes-build.sh
source "$(pwd)/kubernetes-build.sh"
cache_root="${PRUNEGUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pruneguard}"
# The pause tag containerd 1.6 asks for is set in its config (sandbox_image), so any tag works;
# this one is what kubeadm v1.34 uses.
pause_tag="registry.k8s.io/pause:3.10"
bin_dir="$cache_root/node/kubernetes-$kubernetes_version"

missing=()
for b in kubelet kube-proxy; do [ -x "$bin_dir/$b" ] || missing+=("$b"); done
[ -f "$bin_dir/pause.tar" ] || missing+=(pause)
if [ ${#missing[@]} -eq 0 ]; then
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$bin_dir.partial"
start=$(date +%s)
for b in "${missing[@]}"; do
  echo "building $b ..." >&2
  case "$b" in
    pause)
      source_dir="$(go env GOMODCACHE)/k8s.io/kubernetes@$kubernetes_version/build/pause/linux"
      [ -f "$source_dir/pause.c" ] || go mod download "k8s.io/kubernetes@$kubernetes_version"
      root="$bin_dir.partial/pause-root"
      rm -rf "$root" && mkdir -p "$root"
      gcc -Os -static -Wall -Werror -DVERSION="$kubernetes_version" -o "$root/pause" "$source_dir/pause.c"
      strip "$root/pause"
      python3 "$here/../image/pack.py" --root "$root" --tag "$pause_tag" --entrypoint /pause \
        --user 65535:65535 --output "$bin_dir.partial/pause.tar"
      rm -rf "$root"
      ;;
    *) go build -trimpath -ldflags "$version_flags" -o "$bin_dir.partial/$b" "k8s.io/kubernetes/cmd/$b" ;;
  esac
done
mkdir -p "$bin_dir"
for b in "${missing[@]}"; do
  case "$b" in
    pause) mv "$bin_dir.partial/pause.tar" "$bin_dir/pause.tar"; echo "$pause_tag" > "$bin_dir/pause.tag" ;;
    *) mv "$bin_dir.partial/$b" "$bin_dir/$b" ;;
  esac
done
rmdir "$bin_dir.partial"
echo "built ${missing[*]} in $(( $(date +%s) - start ))s; $(du -sh "$bin_dir" | cut -f1) in $bin_dir" >&2
echo "$bin_dir"
