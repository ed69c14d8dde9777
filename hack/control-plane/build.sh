#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl at the pinned version
# (k8s/VERSION) from the Go module proxy into .cache/k8s/<version>/. Skips binaries that are
# already there. Prints the directory holding the binaries on its last line.
# Arguments name other commands instead, e.g. `build.sh kubelet` for the kubelet node (CP_NODE=kubelet).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
version="$(tr -d '[:space:]' < "$here/k8s/VERSION")"
out="${K8S_BIN_DIR:-$root/.cache/k8s/$version}"
mkdir -p "$out"
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
# Cap parallel compile jobs: the machine is small and shared.
jobs="${K8S_BUILD_JOBS:-2}"
# A second cache outside the work tree survives fresh clones on the same machine (CI clones
# anew each run; Go's own caches are kept there too). K8S_SHARED_CACHE= (empty) turns it off.
shared="${K8S_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/k8s/$version}"
cmds=("$@"); (( ${#cmds[@]} )) || cmds=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
for cmd in "${cmds[@]}"; do
  if [[ -x "$out/$cmd" ]]; then echo "have $out/$cmd" >&2; continue; fi
  if [[ -n "$shared" && -x "$shared/$cmd" ]]; then
    cp "$shared/$cmd" "$out/$cmd.tmp" && mv "$out/$cmd.tmp" "$out/$cmd"
    echo "copied $cmd from $shared" >&2
    continue
  fi
  start=$(date +%s)
  echo "building $cmd $version ..." >&2
  (cd "$here/k8s" && nice -n "${K8S_BUILD_NICE:-10}" go build -p "$jobs" -trimpath \
      -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$version" | cut -d. -f2)" \
      -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
  mv "$out/$cmd.tmp" "$out/$cmd"
  echo "built $cmd in $(( $(date +%s) - start ))s" >&2
  if [[ -n "$shared" ]]; then mkdir -p "$shared" && cp "$out/$cmd" "$shared/$cmd.tmp" && mv "$shared/$cmd.tmp" "$shared/$cmd"; fi
done
echo "$out"
