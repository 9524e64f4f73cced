# MSM — the two commands: `make run` and `make test`. Everything else is a step they use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv
TOOLS := $(CURDIR)/.local/tools
UV := $(TOOLS)/bin/uv
PY := $(CURDIR)/.venv/bin/python
STACK := deploy/local/stack.sh
WITH_ENV := source deploy/local/env.sh &&
PYTEST := $(WITH_ENV) $(PY) -m pytest -p no:cacheprovider

.PHONY: help setup run up down test test-unit test-integration test-e2e bench lint fmt \
        bench-ingest bench-ingest-parts bench-api bench-commands bench-metersim \
        stack-up stack-down stack-status clean console console-test chromium bench-console

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	@command -v python3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv; }
	@python3 -m venv $(TOOLS) 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv && python3 -m venv $(TOOLS); }
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check 'uv==0.13.9'

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml devkit/*/pyproject.toml)
	$(UV) sync --frozen --python python3 --all-packages
	@touch $@

setup: .venv/.synced ## install Python, uv and every package (locked)

stack-up: setup ## start MongoDB-protocol server, RabbitMQ, our mosquitto (mTLS 8883), moto
	bash $(STACK) up

stack-down: ## stop the parts of the local stack that we started
	bash $(STACK) down

stack-status: ## show each part of the local stack
	bash $(STACK) status

# The web console (web/): npm ci when the lock changes, Vitest and the Vite build only when their
# sources (or the API's document, which the types are generated from) changed.
WEB_STAMP := .local/web
WEB_SRC := web/index.html web/package.json web/tsconfig.json web/vite.config.ts \
	$(shell find web/src web/scripts -type f -not -name schema.d.ts -not -name openapi.json 2>/dev/null)
WEB_TESTS := $(shell find web/test -type f 2>/dev/null)
API_DOC_SRC := $(wildcard services/api/src/msm_api/openapi.py services/api/src/msm_api/routing.py \
	services/api/src/msm_api/models/*.py services/api/src/msm_api/blueprints/*.py)

$(WEB_STAMP)/npm-ci: web/package-lock.json web/package.json
	@node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null \
		|| { echo "the console needs Node >= 20.19 and npm (Debian's apt has only 18)"; exit 1; }
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(WEB_STAMP) && touch $@

web/dist/index.html: $(WEB_STAMP)/npm-ci .venv/.synced $(WEB_SRC) $(API_DOC_SRC)
	cd web && npm run build --silent

$(WEB_STAMP)/vitest: $(WEB_STAMP)/npm-ci $(WEB_SRC) $(WEB_TESTS)
	cd web && npx vitest run
	@touch $@

console: web/dist/index.html ## build the web console (web/dist) when its sources changed

console-test: $(WEB_STAMP)/vitest ## the console's unit tests (Vitest), when anything changed

chromium: ## Debian's chromium for the browser tests, where absent
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

run: stack-up console ## the whole local stack + every service + a simulated fleet, in the foreground
	@$(WITH_ENV) $(PY) deploy/runner.py

up: stack-up console ## the same, detached (logs in .local/logs)
	@$(WITH_ENV) $(PY) deploy/runner.py --detach

down: ## stop the services and the local stack
	@$(PY) deploy/runner.py --stop 2>/dev/null || true
	bash $(STACK) down

test: stack-up k8s-tools console-test console chromium asyncapi-specs image-tools ## install what is missing, start what the tests need, run every test
	$(PYTEST)

test-unit: setup asyncapi-specs ## unit tests only (no I/O)
	$(PYTEST) tests/unit

test-integration: stack-up ## integration tests against the real local services
	$(PYTEST) tests/integration

test-e2e: stack-up console chromium ## the whole stack with the meter simulator
	$(PYTEST) tests/e2e

# The official AsyncAPI JSON Schemas (npm @asyncapi/specs): the AsyncAPI document's test checks
# /api/asyncapi.json against them. Installed once into .local/asyncapi.
ASYNCAPI_SPEC := .local/asyncapi/node_modules/@asyncapi/specs/schemas/3.0.0.json
.PHONY: asyncapi-specs
asyncapi-specs: $(ASYNCAPI_SPEC) ## the AsyncAPI 3.0 JSON Schema (npm @asyncapi/specs)
$(ASYNCAPI_SPEC):
	npm install --prefix .local/asyncapi --no-audit --no-fund --loglevel=error --no-save @asyncapi/specs@6.11.1

# OCI images (deploy/images): Debian's podman + runc (crun fails under hybrid cgroups here),
# buildah, mmdebstrap for the base, tini. Layers, the base and the uv cache live in .local/.
IMAGE_TOOLS := podman buildah mmdebstrap runc newuidmap tini
.PHONY: image-tools images test-images
image-tools: ## podman, buildah, mmdebstrap, runc, uidmap, tini from apt, where absent
	@missing=$$(for t in $(IMAGE_TOOLS); do command -v $$t >/dev/null || echo $$t; done); \
	if [ -n "$$missing" ]; then \
		echo "installing podman and friends (missing: $$missing)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			podman buildah mmdebstrap runc uidmap tini fuse-overlayfs slirp4netns >/dev/null; \
	fi

images: setup image-tools $(if $(wildcard web/package.json),console) ## one OCI image per deployable (+ msm-console), podman
	bash deploy/images/build.sh

test-images: stack-up image-tools $(if $(wildcard web/package.json),console) ## build the images, run each against the local stack
	$(PYTEST) tests/images

.PHONY: k8s-tools k8s-check
k8s-tools: ## kubectl with Kustomize v5 (where the machine has none) and checkov, for the k8s checks
	@bash k8s/tools/ensure-kubectl.sh
	@bash k8s/tools/ensure-checkov.sh

k8s-check: setup k8s-tools ## render every k8s overlay; validate objects and CRs, lint workloads (offline)
	$(PYTEST) tests/k8s

bench: bench-ingest bench-ingest-parts bench-api bench-commands bench-metersim bench-console ## every benchmark (prints figures; never pass/fail)

bench-ingest: stack-up ## ingest pipeline vs raw broker pipe and raw database rate
	$(WITH_ENV) $(PY) bench/bench_ingest.py

bench-ingest-parts: stack-up ## ingest CPU per message by stage (MQTT source, worker, store calls) vs baselines
	$(WITH_ENV) $(PY) bench/bench_ingest_parts.py

bench-api: stack-up ## API req/s and latency vs a bare Flask endpoint
	$(WITH_ENV) $(PY) bench/bench_api.py

bench-commands: stack-up ## command round trip through API + commander vs raw MQTT round trip
	$(WITH_ENV) $(PY) bench/bench_commands.py

bench-metersim: stack-up ## 1,000 simulated meters: CPU and msg/s vs a bare publisher
	$(WITH_ENV) $(PY) bench/bench_metersim.py

bench-console: stack-up console chromium ## console's first paint with 1,000 meters (browser trace) vs a static page; JS size
	$(WITH_ENV) $(PY) bench/bench_console.py

lint: setup ## ruff + mypy (strict on libs/, services/, devkit/)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

fmt: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean: down ## stop everything and remove local state (.local, .venv)
	rm -rf .local .venv
