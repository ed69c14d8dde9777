#!/usr/bin/env bash
# Runs inside a Pod's network namespace (started by the node agent through `ip netns exec`,
# which gives a private mount namespace): binds the agent's hosts file on /etc/hosts, each
# volume folder on its mount path (and a termination message file on its path), sets the hostname, then execs the container's process.
# Usage: pod-exec.sh HOSTS HOSTNAME WORKDIR [-b SRC DST]... -- FILE ARGS...
# Test infrastructure for the local control plane.
set -euo pipefail
hosts="$1" name="$2" workdir="$3"; shift 3
mount --bind "$hosts" /etc/hosts
hostname "$name"
while [[ $# -gt 0 && "$1" == "-b" ]]; do
  # A file (a termination message file) binds onto a file; a folder onto a folder.
  if [[ -f "$2" ]]; then mkdir -p "$(dirname "$3")"; [[ -e "$3" ]] || touch "$3"; else mkdir -p "$3"; fi
  mount --bind "$2" "$3"
  shift 3
done
[[ "${1:-}" == "--" ]] && shift
cd "$workdir"
exec "$@"
