#!/usr/bin/env bash
# Stops the kubelet node (hack/control-plane/kubelet/up.sh): the kubelet, every container of its
# containerd, containerd, the cluster DNS; then unmounts what they mounted, removes the Pods'
# network namespaces (only those holding an address of $CP_KUBELET_POD_CIDR), the bridge and the
# Pods' cgroups. Quiet when nothing runs. hack/control-plane/down.sh calls it.
set -uo pipefail
source "$(dirname "$0")/../env.sh"
log() { echo "[kubelet-node] $*" >&2; }
PID_DIR="$CP_DIR/pids" LOG_DIR="$CP_DIR/logs"
source "$CP_ROOT/hack/lib/pids.sh" # running, stop
D="$CP_KUBELET_DIR"
sock="$D/containerd.sock"
stop kubelet
if running containerd; then
  ctr_() { ctr --address "$sock" --namespace k8s.io "$@"; }
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" > /dev/null 2>&1; done
  for _ in $(seq 1 50); do [[ -z "$(ctr_ tasks ls -q 2>/dev/null | head -1)" ]] && break
    for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" > /dev/null 2>&1; done; sleep 0.2; done
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" > /dev/null 2>&1; done
fi
stop containerd
stop cluster-dns
# The shims outlive containerd by design; ours are the ones started with our socket.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock" || true); do kill -KILL "$pid" 2>/dev/null && log "killed shim $pid"; done
pod_net="${CP_KUBELET_POD_CIDR%.*}."
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^cni-' || true); do
  ip -n "$ns" -4 addr show 2>/dev/null | grep -q "inet ${pod_net//./\\.}" && ip netns del "$ns"
done
if [[ -d "$D" ]]; then
  findmnt -rn -o TARGET | grep -F "$D/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
fi
# Netns files containerd bind-mounted under /run/netns for our sandboxes are gone with the namespaces;
# the Pods' cgroups (cgroupfs driver) are left empty: remove them, deepest first.
for h in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/unified/kubepods; do
  [[ -d "$h" ]] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
done
ip link show "$CP_KUBELET_BRIDGE" > /dev/null 2>&1 && ip link del "$CP_KUBELET_BRIDGE"
if [[ "${CP_KEEP_DATA:-0}" != 1 && -d "$D" ]]; then
  rm -rf "$D/containerd" "$D/root" "$D/pv" "$D/cni-ipam"
fi
exit 0
