#!/usr/bin/env bash
# `make kind-e2e` (part 1): the same e2e flow on a kind cluster, for machines with Docker.
# Creates a kind cluster shaped like the local control plane (5 workers labelled dedicated=etcd,
# 1 plain worker), builds the tsetcd and operator images (hack/images) and loads them, installs
# the CRD and the chart with its default image names, and writes the kubeconfig the suite uses
# (E2E_KUBECONFIG).
# Cannot run on the CI machine (no container engine); the local path is hack/control-plane/up.sh.
# Env: KIND_CLUSTER (default tsetcd-e2e), KIND_NODE_IMAGE (default kindest/node:<k8s/VERSION>).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
cluster="${KIND_CLUSTER:-tsetcd-e2e}"
version="$(tr -d '[:space:]' < hack/control-plane/k8s/VERSION)"
out="$root/.data/kind"
mkdir -p "$out" "$root/.cache/bin"
command -v docker > /dev/null || { echo "kind-up.sh needs docker" >&2; exit 1; }
kind="$(command -v kind || true)"
if [[ -z "$kind" ]]; then
  GOBIN="$root/.cache/bin" go install sigs.k8s.io/kind@v0.33.0
  kind="$root/.cache/bin/kind"
fi
bash hack/ensure-helm.sh
helm="$root/.cache/bin/helm"

if ! "$kind" get clusters | grep -qx "$cluster"; then
  cat > "$out/kind.yaml" <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
$(for i in 1 2 3 4 5; do printf '  - role: worker\n    labels: {dedicated: etcd}\n'; done)
  - role: worker
YAML
  "$kind" create cluster --name "$cluster" --config "$out/kind.yaml" \
    --image "${KIND_NODE_IMAGE:-kindest/node:$version}" --kubeconfig "$out/kubeconfig"
fi
"$kind" get kubeconfig --name "$cluster" > "$out/kubeconfig"
export KUBECONFIG="$out/kubeconfig"

# The release's image names (ghcr.io/tsetcd/<name>:<version>), so the chart's and the operator's
# defaults are what runs; IfNotPresent keeps kind from pulling them. One recipe either way:
# hack/images/Containerfile, built by buildah (make images, as root) or else by docker.
version="$(node -p 'require("./package.json").version')"
if command -v buildah > /dev/null && [[ "$(id -u)" == 0 ]]; then
  bash hack/images/build.sh
  for name in tsetcd tsetcd-operator; do
    "$kind" load image-archive --name "$cluster" ".cache/images/$name.docker.tar"
  done
else
  bash hack/images/build.sh --context-only
  for name in tsetcd tsetcd-operator; do
    docker build -f hack/images/Containerfile --target "$name" -t "ghcr.io/tsetcd/$name:$version" .cache/images/context
  done
  "$kind" load docker-image --name "$cluster" "ghcr.io/tsetcd/tsetcd:$version" "ghcr.io/tsetcd/tsetcd-operator:$version"
fi

kubectl apply --server-side -f crds/tsetcd.dev_etcdclusters.yaml -f crds/tsetcd.dev_etcdbackups.yaml
kubectl wait --for=condition=Established --timeout=60s crd/etcdclusters.tsetcd.dev
"$helm" upgrade --install tsetcd-operator charts/tsetcd-operator \
  --namespace tsetcd-system --create-namespace \
  --set image.pullPolicy=IfNotPresent --wait --timeout 5m
echo "kind cluster $cluster ready: E2E_KUBECONFIG=$out/kubeconfig npx vitest run -c test/e2e/vitest.config.ts"
