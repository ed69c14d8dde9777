#!/usr/bin/env bash
# Builds helm from the Go module proxy into .cache/bin/helm (once; later runs skip it).
# Used by the chart tests (operator/chart.test.ts runs `helm lint` / `helm template` when the binary exists).
set -euo pipefail
cd "$(dirname "$0")/.."
HELM_VERSION="${HELM_VERSION:-v3.18.6}"
BIN_DIR="$PWD/.cache/bin"
# `go install` leaves helm's own version string unset, so a stamp file records what was built.
if [ -x "$BIN_DIR/helm" ] && [ "$(cat "$BIN_DIR/helm.version" 2>/dev/null)" = "$HELM_VERSION" ]; then
  exit 0
fi
mkdir -p "$BIN_DIR"
# As for the Kubernetes binaries, a copy outside the work tree survives fresh clones on the same
# machine (CI clones anew each run). HELM_SHARED_CACHE= (empty) turns it off.
shared="${HELM_SHARED_CACHE-${XDG_CACHE_HOME:-$HOME/.cache}/tsetcd/helm/$HELM_VERSION}"
if [ -n "$shared" ] && [ -x "$shared/helm" ]; then
  cp "$shared/helm" "$BIN_DIR/helm.tmp" && mv "$BIN_DIR/helm.tmp" "$BIN_DIR/helm"
  echo "$HELM_VERSION" > "$BIN_DIR/helm.version"
  echo "copied helm ${HELM_VERSION} from $shared"
  exit 0
fi
start=$(date +%s)
GOBIN="$BIN_DIR" GOFLAGS=-trimpath nice -n 10 go install -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
echo "$HELM_VERSION" > "$BIN_DIR/helm.version"
echo "built helm ${HELM_VERSION} into ${BIN_DIR} in $(( $(date +%s) - start ))s"
if [ -n "$shared" ]; then mkdir -p "$shared" && cp "$BIN_DIR/helm" "$shared/helm.tmp" && mv "$shared/helm.tmp" "$shared/helm"; fi
