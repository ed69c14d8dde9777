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
start=$(date +%s)
GOBIN="$BIN_DIR" GOFLAGS=-trimpath nice -n 10 go install -ldflags='-s -w' "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}"
echo "$HELM_VERSION" > "$BIN_DIR/helm.version"
echo "built helm ${HELM_VERSION} into ${BIN_DIR} in $(( $(date +%s) - start ))s"
