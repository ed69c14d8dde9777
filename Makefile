# tsetcd: the two commands a new user needs are `make run` and `make test`.
SHELL := /bin/bash
NODE_MODULES_STAMP := node_modules/.package-lock.json
SEEDS ?= 500
START ?= 1

.PHONY: setup build test unit sim bench run clean typecheck

setup: $(NODE_MODULES_STAMP)

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_MODULES_STAMP)

build: setup
	npx tsc -p tsconfig.build.json
	@mkdir -p bin
	@printf '#!/usr/bin/env bash\nexec node --enable-source-maps "$$(dirname "$$(readlink -f "$$0")")/../dist/node/main.js" "$$@"\n' > bin/tsetcd
	@chmod +x bin/tsetcd

typecheck: setup
	npx tsc -p tsconfig.json --noEmit

# Everything CI proves: types, unit tests, the simulator, integration tests.
test: build typecheck
	npx vitest run

sim: setup
	npx tsx test/sim/main.ts --seeds $(SEEDS) --start $(START)

bench: build
	bash hack/bench.sh

run: build
	bash hack/run-local.sh

clean:
	rm -rf dist bin/tsetcd .data

# operator
.PHONY: operator-build operator-run helm operator-images
# bin/tsetcd-operator: the operator's entry point (dist/operator/main.js), built with everything else.
operator-build: build
	@printf '#!/usr/bin/env bash\nexec node --enable-source-maps "$$(dirname "$$(readlink -f "$$0")")/../dist/operator/main.js" "$$@"\n' > bin/tsetcd-operator
	@chmod +x bin/tsetcd-operator

# Runs the operator against $$KUBECONFIG (e.g. the local control plane's .data/cp/kubeconfig).
operator-run: operator-build
	bin/tsetcd-operator $(OPERATOR_ARGS)

# helm (pinned) into .cache/bin/helm, from the Go module proxy; the chart tests use it when present.
helm:
	bash hack/ensure-helm.sh

# Needs a container engine (not available on the CI machine).
operator-images:
	docker build -f hack/images/tsetcd.Dockerfile -t tsetcd:dev .
	docker build -f hack/images/operator.Dockerfile -t tsetcd-operator:dev .
