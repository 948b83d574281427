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
	demo demo-down bench bench-smoke tools image clean help spec

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | sort

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

dev: $(VENV)/.installed ## create .venv with the project (editable) and dev tools

spec: ## fetch the pinned upstream spec into .cache/spec/ and verify it against hack/spec/SHA256SUMS
	$(PYTHON) hack/spec_fetch.py

tools: dev ## build/install the control plane (kube-apiserver, etcd, kubectl, helm) and promtool
	bash hack/build-controlplane.sh
	bash hack/install-prometheus.sh

lint: dev ## ruff, mypy --strict, import-linter, generated files current
	$(VENV)/bin/ruff check operator tests bench hack
	$(VENV)/bin/ruff format --check operator tests bench hack
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports
	$(PY) -m interconnect_operator.k8s.crdgen --check
	$(PY) hack/chart-sync.py --check
	$(PY) hack/chart-readme.py --check

fmt: dev
	$(VENV)/bin/ruff format operator tests bench hack
	$(VENV)/bin/ruff check --fix operator tests bench hack

crds: dev ## regenerate crds/ from the models, then the chart's copies and the README reference
	$(PY) -m interconnect_operator.k8s.crdgen
	$(PY) hack/chart-sync.py
	$(PY) hack/chart-readme.py
	$(PY) hack/readme-reference.py

chart-sync: dev ## copy CRDs, RBAC rules, alerts and dashboard into the chart
	$(PY) hack/chart-sync.py
	$(PY) hack/chart-readme.py

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
bench: dev tools ## benchmark on the rig's API server (BENCH_N=100,1000; BENCH_STEADY_SECONDS=300): bench/results.json, bench/REPORT.md
	BENCH_N=$(BENCH_N) PYTHONPATH=$(CURDIR) $(PY) -m bench.run

bench-smoke: dev tools ## the benchmark harness at N=20 with a 5 s steady window (CI): results in .cache/bench-smoke
	PYTHONPATH=$(CURDIR) $(PY) -m bench.run --sizes 20 --steady-seconds 5 --single-runs 5 \
		--no-merge --out-dir $(CURDIR)/.cache/bench-smoke
