#!/usr/bin/env bash
# Installs what a real node of the test ground runs from Debian (see ../shared/REAL-NODE.md):
# containerd, runc, the CNI plugins (/usr/lib/cni), iptables and nft (the node's rules, and their
# removal). Nothing is started or enabled: the test harness runs containerd with its own config.
# Without root or apt-get it installs nothing and says so; the tests that need a node then say why.
set -euo pipefail
commands=(containerd runc ctr iptables nft)
missing=()
for c in "${commands[@]}"; do command -v "$c" > /dev/null || missing+=("$c"); done
[ -x /usr/lib/cni/bridge ] || missing+=(cni-plugins)
if [ ${#missing[@]} -eq 0 ]; then
  echo "real node packages present: $(containerd --version | awk '{print $3}') runc $(runc --version | awk 'NR==1 {print $3}')" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
  echo "hack/node/install.sh: missing ${missing[*]}, and cannot install them here (needs root and apt-get); tests on the real node will fail in CI" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends containerd runc containernetworking-plugins iptables nftables > /dev/null
echo "installed $(containerd --version | awk '{print $3}'), runc $(runc --version | awk 'NR==1 {print $3}')" >&2
