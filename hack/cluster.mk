# Control-plane and cluster targets; included by the top-level Makefile.
#   make controlplane   build kube-apiserver, etcd, kubectl (k8s.io/kubernetes
#                       pinned in hack/controlplane/go.mod) and helm
#   make cluster-up     start a detached local control plane (.cache/cluster/)
#   make cluster-down   stop it
#   make kind-up / kind-down / kind-e2e   the same with kind (needs Docker)
PY ?= .venv/bin/python
PYTEST ?= .venv/bin/pytest
KIND ?= kind
KIND_CLUSTER ?= interconnect
KIND_KUBECONFIG ?= $(CURDIR)/.cache/kind/kubeconfig

.PHONY: controlplane cluster-up cluster-down cluster-status kind-up kind-down kind-e2e kind-check

controlplane: ## build kube-apiserver, etcd, kubectl and helm into .cache/bin
	bash hack/build-controlplane.sh

cluster-up: controlplane ## start a local kube-apiserver + etcd (prints export KUBECONFIG=...)
	$(PY) -m tests.support.cluster up

cluster-down: ## stop the local control plane
	$(PY) -m tests.support.cluster down

cluster-status:
	$(PY) -m tests.support.cluster status

kind-check:
	@if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then \
		echo "kind targets need a Docker engine; none found" >&2; exit 1; fi
	@command -v $(KIND) >/dev/null 2>&1 || { echo "kind not found (set KIND=...)" >&2; exit 1; }

kind-up: kind-check ## create the kind cluster from kind-config.yaml
	@mkdir -p $(dir $(KIND_KUBECONFIG))
	@if $(KIND) get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
		echo "kind cluster $(KIND_CLUSTER) already exists"; \
	else \
		$(KIND) create cluster --name $(KIND_CLUSTER) --config kind-config.yaml --kubeconfig $(KIND_KUBECONFIG); \
	fi
	$(KIND) get kubeconfig --name $(KIND_CLUSTER) > $(KIND_KUBECONFIG)
	@echo "export KUBECONFIG=$(KIND_KUBECONFIG)"

kind-down: kind-check ## delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)
	rm -f $(KIND_KUBECONFIG)

kind-e2e: kind-up ## run tests/e2e against the kind cluster
	E2E_EXISTING_CLUSTER=1 KUBECONFIG=$(KIND_KUBECONFIG) $(PYTEST) -q -p no:cacheprovider tests/e2e
