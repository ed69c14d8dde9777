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
# SeaweedFS's weed (the S3 server of the backup tests) builds beside them too: cold, it is a large Go
# build. The backup suites run after the rest, once it is there.
weed_log=.cache/weed-build.log
bash hack/ensure-weed.sh >"$weed_log" 2>&1 &
weed=$!
# cert-manager's controller (test/e2e/cert-manager.e2e.ts) too: about 2 minutes cold, cached after.
cm_log=.cache/cert-manager-build.log
bash hack/ensure-cert-manager.sh >"$cm_log" 2>&1 &
cert_manager=$!
trap 'kill "$build" "$weed" "$cert_manager" 2>/dev/null || true' EXIT

# A vitest run that, when it fails, ends with a short list of what failed and why (CI shows the
# end of the output; vitest's own report is long).
run_vitest() {
  local label=$1; shift
  local report=".cache/vitest-$label.json"
  rm -f "$report"
  if npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"; then return 0; fi
  npx tsx hack/test-failures.ts "$report" "$label" || true
  return 1
}

backup_suites='test/integration/backup-*.test.ts'
run_vitest unit --exclude "$backup_suites"

echo "waiting for weed (log: $weed_log)"
if ! wait "$weed"; then
  cat "$weed_log"
  echo "hack/ensure-weed.sh failed" >&2
  exit 1
fi
tail -n 2 "$weed_log"
run_vitest backup test/integration/backup-

echo "waiting for the Kubernetes binaries (log: $log)"
if ! wait "$build"; then
  cat "$log"
  echo "hack/control-plane/build.sh failed" >&2
  exit 1
fi
tail -n 5 "$log"
echo "waiting for cert-manager (log: $cm_log)"
if ! wait "$cert_manager"; then
  cat "$cm_log"
  echo "hack/ensure-cert-manager.sh failed" >&2
  exit 1
fi
trap - EXIT
tail -n 2 "$cm_log"
run_vitest e2e -c test/e2e/vitest.config.ts
CP_STORAGE=tsetcd run_vitest e2e-on-tsetcd -c test/e2e/vitest.config.ts
