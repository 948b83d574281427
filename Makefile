# interconnect-operator: developer entry points.
#   make demo   the main job: two simulated providers, the operator, links coming up
#   make test   every test (lint, unit, integration, e2e on a real kube-apiserver, chart)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
export ICO_CACHE ?= $(CURDIR)/.cache
# The pinned OpenAPI spec: INTERCONNECT_SPEC_DIR when set, else .cache/spec/<commit> (`make spec`).

.PHONY: dev lint fmt test test-unit test-integration test-e2e test-chart crds crds-check chart-sync \
	demo demo-down bench bench-smoke tools image clean help lock chart-readme image-smoke spec

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

# Everything comes from the hash-locked requirements/dev.txt (pip refuses any
# file whose hash is not in the lock); the project itself is installed
# editable on top, without dependencies and with the locked build backend.
$(VENV)/.installed: pyproject.toml requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements/dev.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

dev: $(VENV)/.installed ## create .venv from the lock (requirements/dev.txt), the project editable

spec: ## fetch the pinned upstream spec into .cache/spec/ and verify it against hack/spec/SHA256SUMS
	$(PYTHON) hack/spec_fetch.py


# `make lock` keeps every pin that still satisfies pyproject.toml;
# `make lock UPGRADE=1` moves them all to the newest allowed versions.
LOCK_ARGS := --quiet --generate-hashes --universal --python-version 3.11 \
	--custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
lock: dev ## re-resolve requirements/{dev,runtime,build}.txt (hashes) from pyproject.toml
	$(VENV)/bin/uv pip compile $(LOCK_ARGS) pyproject.toml requirements/build.in --extra dev -o requirements/dev.txt
	$(VENV)/bin/uv pip compile $(LOCK_ARGS) pyproject.toml -c requirements/dev.txt -o requirements/runtime.txt
	$(VENV)/bin/uv pip compile $(LOCK_ARGS) requirements/build.in -c requirements/dev.txt -o requirements/build.txt

# One progress line per stage; go's and apt's own output go to log files
# (their last lines are shown when a stage fails).
TOOLS_LOG_DIR = $(ICO_CACHE)/logs
tools: dev ## build/install the control plane (kube-apiserver, etcd, kubectl, helm), the referees and promtool
	@set -o pipefail; mkdir -p "$(TOOLS_LOG_DIR)"; start=$$(date +%s); \
	echo "tools: building or checking the control plane (first run: 5-10 minutes; go's output: $(TOOLS_LOG_DIR)/go-build.log)"; \
	ICO_GO_LOG="$(TOOLS_LOG_DIR)/go-build.log" bash hack/build-controlplane.sh 2>&1 >/dev/null \
		| tee "$(TOOLS_LOG_DIR)/build-controlplane.log" | sed -u -n 's/^build-controlplane: \[/tools:   [/p' \
		|| { tail -n 40 "$(TOOLS_LOG_DIR)/build-controlplane.log" >&2; exit 1; }; \
	echo "tools: [$$(( $$(date +%s) - start ))s] kube-apiserver, etcd, kubectl, helm, kstatus, helm-docs ready"; \
	bash hack/install-prometheus.sh >"$(TOOLS_LOG_DIR)/install-prometheus.log" 2>&1 \
		|| { tail -n 40 "$(TOOLS_LOG_DIR)/install-prometheus.log" >&2; exit 1; }; \
	echo "tools: [$$(( $$(date +%s) - start ))s] promtool and prometheus ready"

lint: dev ## ruff, mypy --strict, import-linter, generated files current
	$(VENV)/bin/ruff check operator tests bench hack
	$(VENV)/bin/ruff format --check operator tests bench hack
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(VENV)/bin/deptry operator
	$(PY) -m interconnect_operator.k8s.crdgen --check
	$(PY) hack/chart-sync.py --check

fmt: dev
	$(VENV)/bin/ruff format operator tests bench hack
	$(VENV)/bin/ruff check --fix operator tests bench hack

crds: dev ## regenerate crds/ from the models, then the chart's copies and the README reference
	$(PY) -m interconnect_operator.k8s.crdgen
	$(PY) hack/chart-sync.py
	$(PY) hack/readme-reference.py

chart-sync: dev ## copy CRDs, RBAC rules, alerts and dashboard into the chart
	$(PY) hack/chart-sync.py

chart-readme: ## the chart README's values table, by helm-docs (built by hack/build-controlplane.sh)
	@bash hack/build-controlplane.sh >/dev/null
	source "$(ICO_CACHE)/bin/current.env" && cd charts/interconnect-operator && \
		"$$HELM_DOCS" --chart-search-root . --template-files README.md.gotmpl --sort-values-order file

test-chart: dev tools
	$(PYTEST) -q tests/chart

test: dev tools lint ## every test
	$(PYTEST) -q -p no:cacheprovider tests

test-unit: dev
	$(PYTEST) -q tests/unit

test-integration: dev
	$(PYTEST) -q tests/integration

test-e2e: dev tools
	$(PYTEST) -q tests/e2e

include hack/cluster.mk

demo: dev ## the main job: control plane, two simulated providers, the operator, links coming up
	PYTHONPATH=$(CURDIR) $(PY) hack/demo.py up

demo-down: ## stop everything `make demo` started (and nothing else)
	PYTHONPATH=$(CURDIR) $(PY) hack/demo.py down

BENCH_N ?= 100,1000
BENCH_SOAK_SECONDS ?= 0
BENCH_SHARDS ?= 0
bench: dev tools ## floor + operator on the rig (BENCH_N=100,1000; BENCH_STEADY_SECONDS=300; BENCH_PROFILE_MEMORY=1; BENCH_SOAK_SECONDS=900 churn soak; BENCH_SHARDS=2 sharded burst): bench/results.json, bench/REPORT.md
	BENCH_N=$(BENCH_N) BENCH_SOAK_SECONDS=$(BENCH_SOAK_SECONDS) BENCH_SHARDS=$(BENCH_SHARDS) \
		PYTHONPATH=$(CURDIR) $(PY) -m bench.run

bench-smoke: dev tools ## the benchmark harness at N=20 with a 5 s steady window (CI): results in .cache/bench-smoke
	PYTHONPATH=$(CURDIR) $(PY) -m bench.run --sizes 20 --steady-seconds 5 --single-runs 5 \
		--no-merge --out-dir $(CURDIR)/.cache/bench-smoke

IMAGE ?= interconnect-operator:dev
# PYTHON_DIGEST=sha256:... pins the base image (see the Dockerfile's header).
image: ## build the operator image with buildah, podman or docker (first one found)
	@builder="$$(command -v buildah || command -v podman || command -v docker || true)"; \
	if [[ -z "$$builder" ]]; then echo "make image: no buildah, podman or docker on PATH" >&2; exit 1; fi; \
	case "$$builder" in */buildah) sub=bud ;; *) sub=build ;; esac; \
	set -x; "$$builder" $$sub -t $(IMAGE) -f Dockerfile \
		--build-arg PYTHON_DIGEST=$(PYTHON_DIGEST) \
		--build-arg VERSION=$$($(PYTHON) -c 'import tomllib;print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])') \
		--build-arg REVISION=$$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		--build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) .

image-smoke: dev tools ## build the image with buildah and run the e2e smoke test with the operator inside it (root)
	bash hack/image-smoke.sh
