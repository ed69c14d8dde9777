#!/usr/bin/env bash
# `make test` after build and typecheck: the unit and integration tests run while the Kubernetes
# binaries build in the background (niced; a cold build is most of a fresh clone's CI time), then
# the e2e suite runs twice: on Debian's etcd, and with kube-apiserver stored on tsetcd.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
log=.cache/control-plane-build.log
bash hack/control-plane/build.sh >"$log" 2>&1 &
build=$!
trap 'kill "$build" 2>/dev/null || true' EXIT

npx vitest run

echo "waiting for the Kubernetes binaries (log: $log)"
if ! wait "$build"; then
  cat "$log"
  echo "hack/control-plane/build.sh failed" >&2
  exit 1
fi
trap - EXIT
tail -n 5 "$log"
npx vitest run -c test/e2e/vitest.config.ts
CP_STORAGE=tsetcd npx vitest run -c test/e2e/vitest.config.ts
