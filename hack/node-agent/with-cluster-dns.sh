#!/usr/bin/env bash
# Runs a command on the host with the node agent's hosts file bound on /etc/hosts (in a private
# mount namespace), so the cluster's names (`<pod>.<svc>.<ns>.svc`, `<svc>.<ns>.svc`) resolve
# as they do inside the Pods. Pod addresses are reachable from the host over the bridge.
# Usage: with-cluster-dns.sh CMD ARGS...   (CP_HOSTS_FILE overrides the hosts file)
# Test infrastructure for the local control plane.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
hosts="${CP_HOSTS_FILE:-$root/.data/cp/agent/hosts}"
[[ -f "$hosts" ]] || { echo "no hosts file at $hosts (is the node agent running?)" >&2; exit 1; }
exec unshare -m --propagation private -- bash -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" "$@"
