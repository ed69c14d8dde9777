# tsetcd: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
SEEDS ?= 500
START ?= 1

.PHONY: setup build test unit sim sim-whole bench run clean typecheck fuzz

setup: $(NODE_MODULES_STAMP)

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_MODULES_STAMP)

build: setup
	npx tsc -p tsconfig.build.json
	@mkdir -p bin
	@printf '#!/usr/bin/env bash\nexport GLIBC_TUNABLES="$${GLIBC_TUNABLES:-glibc.malloc.mmap_threshold=131072}"\nexec node --max-semi-space-size=4 --heap-growing-percent=100 "$$(dirname "$$(readlink -f "$$0")")/../dist/node/main.js" "$$@"\n' > bin/tsetcd
	@chmod +x bin/tsetcd

typecheck: setup
	npx tsc -p tsconfig.json --noEmit

# Everything CI proves: types, unit tests, the simulator, integration tests with real etcdctl
# and etcd3, the chart (helm, promtool), then the e2e suite against a real kube-apiserver twice:
# on Debian's etcd, and with kube-apiserver storing its data in a 3-member tsetcd cluster.
# helm and the Kubernetes binaries are built once from the Go module proxy and cached; the
# Kubernetes build runs beside the unit tests (hack/test.sh).
test: build typecheck helm mixin etcd36 lincheck
	bash hack/test.sh

sim: setup
	npx tsx test/sim/main.ts --seeds $(SEEDS) --start $(START)

# The whole-member simulator (test/sim/member): real members on simulated time under the nemesis,
# checked for linearizability (porcupine), watch guarantees, lease safety, durability, agreement.
# make test runs a few short seeds (test/sim/member/whole.test.ts); this runs many.
sim-whole: setup lincheck
	npx tsx test/sim/member/main.ts --seeds $(SEEDS) --start $(START) $(if $(SIZE),--size $(SIZE)) $(if $(FAULT_MS),--fault-ms $(FAULT_MS))

# The wire fuzzer (test/fuzz/wire-fuzz.test.ts) at length: hostile client requests for every RPC
# and hostile peer frames against 3 real members. make test runs it small (2 seeds).
FUZZ_SEEDS ?= 1-20
FUZZ_MESSAGES ?= 40
FUZZ_PEER_CONNECTIONS ?= 200
fuzz: build
	FUZZ_SEEDS=$(FUZZ_SEEDS) FUZZ_MESSAGES=$(FUZZ_MESSAGES) FUZZ_PEER_CONNECTIONS=$(FUZZ_PEER_CONNECTIONS) npx vitest run test/fuzz/wire-fuzz.test.ts

# The nemesis suite (test/nemesis) at length: 3- and 5-member clusters of bin/tsetcd in network
# namespaces under kill -9, SIGSTOP and partitions, seed after seed for SECONDS; each history checked
# by hack/lincheck (porcupine), the event log and HashKV. make test runs it short. Needs root.
SECONDS ?= 600
NEMESIS_START ?= 1
.PHONY: torture
torture: build lincheck
	npx tsx test/nemesis/main.ts --seconds $(SECONDS) --start $(NEMESIS_START)

# The differential test against etcd 3.6 (test/compat): one scripted session against a fresh
# 3-member etcd 3.6.16 and a fresh 3-member tsetcd, every difference printed. make test runs it too.
.PHONY: compat
compat: build etcd36
	npx vitest run test/compat/

bench: build
	bash hack/bench.sh

run: build
	bash hack/run-local.sh

clean:
	rm -rf dist bin/tsetcd .data

# operator
.PHONY: operator-build operator-run helm mixin
# bin/tsetcd-operator: the operator's entry point (dist/operator/main.js), built with everything else.
operator-build: build
	@printf '#!/usr/bin/env bash\nexec node --enable-source-maps "$$(dirname "$$(readlink -f "$$0")")/../dist/operator/main.js" "$$@"\n' > bin/tsetcd-operator
	@chmod +x bin/tsetcd-operator

# Runs the operator against $$KUBECONFIG (e.g. the local control plane's .data/cp/kubeconfig).
operator-run: operator-build
	bin/tsetcd-operator $(OPERATOR_ARGS)

# etcd and etcdutl 3.6 (hack/etcd36/VERSION) into .cache/etcd36/<version>/, from the Go module proxy:
# the snapshot interoperability test (test/integration/snapshot-etcd.test.ts) runs them.
.PHONY: etcd36
etcd36:
	bash hack/ensure-etcd36.sh

# SeaweedFS's weed (hack/weed/VERSION) into .cache/weed/<version>/, from the Go module proxy: the real
# S3-compatible server of the backup tests (test/integration/backup-*.test.ts). make test builds it
# in the background beside the unit tests (hack/test.sh), as it does the Kubernetes binaries.
.PHONY: weed
weed:
	bash hack/ensure-weed.sh

# cert-manager's controller and CRDs (hack/cert-manager/VERSION) into .cache/cert-manager/<version>/,
# from the Go module proxy: test/e2e/cert-manager.e2e.ts runs them on the local control plane.
# make test builds it in the background (hack/test.sh).
.PHONY: cert-manager
cert-manager:
	bash hack/ensure-cert-manager.sh

# The nemesis suite's linearizability checker (hack/lincheck: porcupine with etcd's KV model, from the
# Go module proxy) into .cache/lincheck/<source hash>/; test/nemesis proves it and uses it.
.PHONY: lincheck
lincheck:
	bash hack/ensure-lincheck.sh

# helm (pinned) into .cache/bin/helm, from the Go module proxy; the chart tests use it when present.
helm:
	bash hack/ensure-helm.sh

# etcd's monitoring mixin (pinned, from the Go module proxy) rendered with go-jsonnet into
# .cache/mixin/; test/mixin checks it against tsetcd and Prometheus. To refresh the chart's copy:
# bash hack/ensure-mixin.sh --update-chart
mixin:
	bash hack/ensure-mixin.sh

# images
.PHONY: images images-smoke
# The member and operator images, built by buildah from a root filesystem laid out here (no base
# image, no registry): .cache/images/{tsetcd,tsetcd-operator}.{docker,oci}.tar, tagged
# ghcr.io/tsetcd/<name>:<package.json version>. Needs root and buildah; see docs/operator.md.
images: setup
	bash hack/images/build.sh

# Loads both archives into a private podman store and runs each image once (member: etcdctl
# endpoint health on 127.0.0.1; operator: its usage). Needs root, podman, runc, etcdctl.
images-smoke: images
	bash hack/images/smoke.sh

# demo
.PHONY: demo demo-down
# The operator running a 3-member tsetcd cluster on the local control plane, scraped by Prometheus
# on 127.0.0.1:49090; prints how to scale it and query its leader and heartbeats. Needs root.
demo: operator-build control-plane-build
	bash hack/demo.sh

demo-down:
	bash hack/demo-down.sh

# control plane
.PHONY: control-plane-build control-plane-up control-plane-down e2e kind-e2e kubelet-build e2e-kubelet bench-kubelet
# kube-apiserver, kube-controller-manager, kube-scheduler (hack/control-plane/k8s/VERSION) into .cache/k8s/.
control-plane-build:
	bash hack/control-plane/build.sh

# A real control plane on loopback (Debian's etcd, or CP_ETCD_SERVERS) + the node agent; see docs/e2e.md.
control-plane-up: build control-plane-build
	bash hack/control-plane/up.sh

control-plane-down:
	bash hack/control-plane/down.sh

# The e2e suite (test/e2e) against the local control plane it brings up and tears down.
e2e: build control-plane-build helm cert-manager
	npx vitest run -c test/e2e/vitest.config.ts

# The kubelet of the opt-in kubelet node (CP_NODE=kubelet), at the same pinned version.
kubelet-build:
	bash hack/control-plane/build.sh kubelet

# Real containers (opt-in, not in `make test`): the control plane with a real kubelet node
# (containerd, runc, CNI bridge; hack/control-plane/kubelet) and test/e2e/kubelet.e2e.ts on it,
# members from `make images`. E2E_FILES= (empty) runs the whole suite on that control plane.
E2E_FILES ?= test/e2e/kubelet.e2e.ts
e2e-kubelet: build control-plane-build kubelet-build helm images
	CP_NODE=kubelet flock /tmp/tsetcd-cp.lock npx vitest run -c test/e2e/vitest.config.ts $(E2E_FILES)

# Heartbeats of members under a real CPU limit, for each of KUBELET_CPUS: figures, no bounds.
KUBELET_CPUS ?= 250m 100m
bench-kubelet: build control-plane-build kubelet-build helm images
	flock /tmp/tsetcd-cp.lock bash -c 'bash hack/control-plane/down.sh && CP_NODE=kubelet CP_BUILD=0 bash hack/control-plane/up.sh && \
	  { rc=0; for cpu in $(KUBELET_CPUS); do KUBELET_CPU=$$cpu npx vitest run -c test/timing/vitest.config.ts test/timing/kubelet-cpu-limit.timing.ts || rc=1; done; \
	    bash hack/control-plane/down.sh; exit $$rc; }'

# The same suite on a kind cluster (needs Docker; not on the CI machine).
kind-e2e:
	bash hack/kind-up.sh
	E2E_KUBECONFIG="$${E2E_KUBECONFIG:-$$PWD/.data/kind/kubeconfig}" npx vitest run -c test/e2e/vitest.config.ts
