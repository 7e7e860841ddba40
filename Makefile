# pruneguard: every target installs what it needs (npm packages, Python oracle, control-plane binaries).
SHELL := /bin/bash
.DEFAULT_GOAL := help
NODE_TS := node --import tsx
PYTHON ?= python3

.PHONY: help deps controlplane helm prometheus lua argo-rollouts s3 image node node-clean build lint test test-unit test-integration bench demo crds fixtures clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json .npmrc
	npm ci --no-audit --no-fund
	@touch $@

.venv/.installed: test/oracle/requirements.txt
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check -r test/oracle/requirements.txt
	@touch $@

deps: node_modules/.installed .venv/.installed ## install npm packages and the Python test oracle

controlplane: ## build (or reuse from ~/.cache/pruneguard) kube-apiserver, etcd, controller-manager, scheduler, kubectl, kwok
	bash hack/controlplane/build.sh

helm: ## build (or reuse from ~/.cache/pruneguard) helm and the PromQL checker for the chart tests
	bash hack/helm/build.sh
	bash hack/promql/build.sh

prometheus: ## build (or reuse from ~/.cache/pruneguard) the Prometheus server the live-metrics tests scrape with
	bash hack/prometheus/build.sh

lua: ## build (or reuse from ~/.cache/pruneguard) glua, the gopher-lua Argo CD runs health checks in
	bash hack/lua/build.sh

argo-rollouts: ## build (or reuse from ~/.cache/pruneguard) the Argo Rollouts controller and kubectl plugin, with its CRDs
	bash hack/argo-rollouts/build.sh

s3: ## build (or reuse from ~/.cache/pruneguard) SeaweedFS's weed, the S3 server the object-storage tests read from
	bash hack/seaweedfs/build.sh

image: node_modules/.installed ## build (or reuse from ~/.cache/pruneguard) the pruneguard image tarball, no Docker needed
	bash hack/image/build.sh

node: controlplane ## install containerd/runc/CNI (Debian) and build kubelet, kube-proxy, pause for the real test node
	bash hack/node/install.sh
	bash hack/node/build.sh

node-clean: node_modules/.installed ## remove what a killed test run's real node left on this machine
	$(NODE_TS) test/support/real-node.ts cleanup

build: node_modules/.installed ## compile TypeScript to dist/
	npm run build

lint: node_modules/.installed ## type-check, eslint and prettier
	npm run lint

test: deps controlplane helm prometheus lua argo-rollouts s3 image node ## unit + integration tests (everything)
	npm run test:unit
	$(NODE_TS) test/integration/run.ts

test-unit: deps
	npm run test:unit

test-integration: deps controlplane helm prometheus lua argo-rollouts s3 image node
	$(NODE_TS) test/integration/run.ts

bench: deps controlplane argo-rollouts build ## benchmarks: numbers and ratios
	$(NODE_TS) --expose-gc bench/metrics.bench.ts
	$(NODE_TS) --expose-gc bench/evaluator.bench.ts --rows 1000000
	$(NODE_TS) --expose-gc bench/evaluator.bench.ts --rows 1000000 --hidden 256,256
	$(NODE_TS) --expose-gc bench/actuation.bench.ts
	$(NODE_TS) bench/scale.bench.ts --count 1000 --namespaces 10

crds: node_modules/.installed ## regenerate crds/ from src/api (never edit crds/*.yaml)
	$(NODE_TS) scripts/generate-crds.ts

fixtures: node_modules/.installed ## rebuild test/fixtures (models trained on vega-datasets, pruned candidates)
	$(NODE_TS) scripts/fixtures/build.ts

# The demo runs pruneguard from its image on a real node where the machine allows it, else on the
# emulated kubelet, saying why in one line (scripts/demo.ts). A node needs root (apt, mounts, a
# bridge), so `make node` runs only as root; without root nothing of it is installed or built. When
# apt cannot install containerd there, the demo falls back and says why (a failed kubelet build
# still fails it). PRUNEGUARD_DEMO_NODE=emulated forces the emulated kubelet.
demo: deps controlplane argo-rollouts image ## start a local control plane (a real node where possible) and run pruneguard on it
	@if [ "$$(id -u)" = 0 ] && [ "$${PRUNEGUARD_DEMO_NODE:-}" != emulated ]; then \
	  $(MAKE) --no-print-directory node || echo "make node failed: the demo runs on the emulated kubelet" >&2; fi
	$(NODE_TS) scripts/demo.ts

clean:
	rm -rf dist .venv node_modules
