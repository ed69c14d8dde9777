#!/usr/bin/env bash
# `make demo-down`: stops what hack/demo.sh started (the operator, Prometheus and its targets
# loop, by their recorded pids), then the local control plane (hack/control-plane/down.sh: the node agent, the
# member processes, their network namespaces, the bridge), and removes .data/demo.
set -uo pipefail
cd "$(dirname "$0")/.."
source hack/control-plane/env.sh
DEMO_DIR="${DEMO_DIR:-$PWD/.data/demo}"
log() { echo "[demo] $*" >&2; }
PID_DIR="$DEMO_DIR/pids" LOG_DIR="$DEMO_DIR/logs"
source hack/lib/pids.sh # stop
stop prometheus
stop targets
stop operator
# The control plane only if this work tree started it (down.sh also removes every Pod network
# namespace and the bridge, which another work tree's control plane would be using).
if compgen -G "$CP_DIR/pids/*" > /dev/null; then
  bash hack/control-plane/down.sh
else
  log "no control plane of this work tree is running ($CP_DIR/pids is empty)"
fi
rm -rf "$DEMO_DIR"
log "down"
