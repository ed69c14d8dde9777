#!/usr/bin/env bash
# `make control-plane-down`: stops what up.sh started (by the pids it recorded), the Pod
# processes the node agent recorded, and removes the Pods' network namespaces and the bridge.
# CP_KEEP_DATA=1 keeps $CP_DIR (etcd data, PKI, logs); by default only etcd data and PV
# folders are removed, the PKI and logs stay for reading.
set -uo pipefail
source "$(dirname "$0")/env.sh"
log() { echo "[control-plane] $*" >&2; }
PID_DIR="$CP_DIR/pids" LOG_DIR="$CP_DIR/logs"
source "$CP_ROOT/hack/lib/pids.sh" # stop
# The kubelet node first (its Pods' processes are containers, not recorded pids).
bash "$CP_ROOT/hack/control-plane/kubelet/down.sh"
stop node-agent
# Pod processes left behind by an agent that was killed hard: their pids are recorded.
if [[ -d "$CP_DIR/agent/pids" ]]; then
  for f in "$CP_DIR"/agent/pids/*; do
    [[ -f "$f" ]] || continue
    pid="$(cat "$f")"; kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null && log "killed pod process $pid"
    rm -f "$f"
  done
fi
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^tsp-' || true); do ip netns del "$ns"; done
stop kube-scheduler
stop kube-controller-manager
stop kube-apiserver
stop etcd
for i in 1 2 3; do stop "tsetcd-$i"; stop "etcd36-$i"; done
ip link show "$CP_BRIDGE" > /dev/null 2>&1 && ip link del "$CP_BRIDGE"
# Size-limited volumes (tmpfs, hack/node-agent/size-limit.ts) are mounts: unmount before removing.
awk -v d="$CP_DIR/agent/pv/" 'index($2, d) == 1 {print $2}' /proc/mounts | while read -r m; do umount -l "$m"; done
if [[ "${CP_KEEP_DATA:-0}" != 1 ]]; then
  rm -rf "$CP_DIR/etcd" "$CP_DIR/tsetcd" "$CP_DIR/etcd36" "$CP_DIR/agent"
fi
log "down"
