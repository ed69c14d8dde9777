#!/usr/bin/env bash
# `make demo-down`: stops what hack/demo.sh started (the operator, Prometheus and its targets
# loop, by their recorded pids), then the local control plane (hack/control-plane/down.sh: the node agent, the
# member processes, their network namespaces, the bridge), and removes .data/demo.
set -uo pipefail
cd "$(dirname "$0")/.."
source hack/control-plane/env.sh
DEMO_DIR="${DEMO_DIR:-$PWD/.data/demo}"
log() { echo "[demo] $*" >&2; }
stop() { # name: SIGTERM, up to 10 s, then SIGKILL; only the pid we recorded
  local f="$DEMO_DIR/pids/$1" pid
  [[ -f "$f" ]] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$f"
}
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
