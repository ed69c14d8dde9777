#!/usr/bin/env bash
# The operator image's entry point on the local control plane (up.sh maps the image's
# `tsetcd-operator` to this file): the built operator, as bin/tsetcd-operator would run it. Pods run
# it for the restore init container (`tsetcd-operator restore-member`). Needs `make build` (dist/).
set -euo pipefail
root="$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)"
exec node --enable-source-maps "$root/dist/operator/main.js" "$@"
