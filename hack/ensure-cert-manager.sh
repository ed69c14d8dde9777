#!/usr/bin/env bash
# Builds cert-manager's controller (hack/cert-manager/VERSION) from the Go module proxy into
# .cache/cert-manager/<version>/ (once; later runs skip it), with a copy in
# ~/.cache/tsetcd/cert-manager/<version> that survives fresh clones on the same machine, and copies
# cert-manager's CRDs out of the same module (deploy/crds in the module zip: nothing is fetched
# from anywhere but the Go module proxy), and cert-manager-validate (the webhook's Certificate
# checks, from the same module). The cert-manager e2e test
# (test/e2e/cert-manager.e2e.ts) runs it against the local control plane. Prints the directory
# holding cert-manager-controller, cert-manager-validate and crds/ last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
source "$here/lib/go-binary.sh"
versioned_dirs cert-manager CERT_MANAGER
require_modules cert-manager 'go get github.com/cert-manager/cert-manager@$version && go mod tidy' github.com/cert-manager/cert-manager
go_binary "$here/cert-manager" "$out" "$shared" cert-manager-controller tsetcd.local/cert-manager-controller \
  "${CERT_MANAGER_BUILD_NICE:-10}" "${CERT_MANAGER_BUILD_JOBS:-2}"
# cert-manager-validate (hack/cert-manager/_validate): the webhook's Certificate checks, which live in
# cert-manager's internal packages, so it is built inside a copy of the module's source.
module_dir() {
  (cd "$here/cert-manager" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/cert-manager/cert-manager@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}
if [[ ! -x "$out/cert-manager-validate" && ! ( -n "$shared" && -x "$shared/cert-manager-validate" ) ]]; then
  src="$out/validate-src"
  rm -rf "$src" && mkdir -p "$src/cmd/tsetcd-validate"
  moddir="$(module_dir)"
  cp -r "$moddir"/go.mod "$moddir"/go.sum "$moddir"/internal "$moddir"/pkg "$moddir"/third_party "$src/"
  chmod -R u+w "$src"
  cp "$here/cert-manager/_validate/main.go" "$src/cmd/tsetcd-validate/"
fi
go_binary "$out/validate-src" "$out" "$shared" cert-manager-validate ./cmd/tsetcd-validate \
  "${CERT_MANAGER_BUILD_NICE:-10}" "${CERT_MANAGER_BUILD_JOBS:-2}"
rm -rf "$out/validate-src"
crd=cert-manager.io_certificates.yaml
if [[ ! -f "$out/crds/$crd" ]]; then
  rm -rf "$out/crds.tmp" && mkdir -p "$out/crds.tmp"
  if [[ -n "$shared" && -f "$shared/crds/$crd" ]]; then
    cp "$shared"/crds/*.yaml "$out/crds.tmp/"
  else
    moddir="$(module_dir)"
    cp "$moddir"/deploy/crds/*.yaml "$out/crds.tmp/"
    chmod u+w "$out"/crds.tmp/*.yaml
  fi
  rm -rf "$out/crds" && mv "$out/crds.tmp" "$out/crds"
fi
if [[ -n "$shared" && ! -f "$shared/crds/$crd" ]]; then
  mkdir -p "$shared/crds.tmp" && cp "$out"/crds/*.yaml "$shared/crds.tmp/" && rm -rf "$shared/crds" && mv "$shared/crds.tmp" "$shared/crds"
fi
echo "$out"
