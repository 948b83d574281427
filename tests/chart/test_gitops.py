"""GitOps: Argo CD health Lua and the kstatus rules Flux uses read link status the same way.

The Lua scripts run in Lua 5.1 (lupa's ``lupa.lua51``), the dialect of
gopher-lua inside Argo CD. The objects come from the fixtures
``link_objects`` and ``pool_objects``: status as the operator writes it
(conditions of ``protocol.link_state``); a test module that has the objects
from a real API server can override these fixtures with the same keys.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pathspec
import pytest
import yaml

from tests.chart.conftest import CHART, KUBE_VERSION, REPO, run_helm
from tests.support.kstatus import KStatus, compute, compute_go

lupa = pytest.importorskip("lupa.lua51", reason="pip install lupa (Lua 5.1 for Argo CD scripts)")

GITOPS = REPO / "examples" / "gitops"
ARGOCD = GITOPS / "argocd"
FLUX = GITOPS / "flux"
HEALTH_KEY = "resource.customizations.health.interconnect.io_{kind}"

Obj = dict[str, Any]


def _condition(type_: str, status: str, reason: str, message: str = "") -> Obj:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": 3,
        "lastTransitionTime": "2026-11-24T10:00:00Z",
    }


def _link(phase: str | None, conditions: list[Obj], observed: int | None = 3) -> Obj:
    obj: Obj = {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "MulticloudLink",
        "metadata": {"name": "basic", "namespace": "team-a", "generation": 3},
        "spec": {"poolRef": {"name": "aws-gcp-us-east"}, "bandwidthMbps": 1000},
    }
    if phase is not None or conditions:
        obj["status"] = {"phase": phase, "conditions": conditions}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
    return obj


@pytest.fixture
def link_objects() -> dict[str, Obj]:
    """MulticloudLinks in the states the health checks must tell apart."""
    ready = _link(
        "Ready",
        [
            _condition("Ready", "True", "Ready", "P14: verified, all channels FINAL"),
            _condition("Negotiated", "True", "Negotiated"),
            _condition("Degraded", "False", "FullRedundancy"),
            _condition("Reconciling", "False", "Idle"),
            _condition("Stalled", "False", "NotStalled"),
        ],
    )
    negotiating = _link(
        "Negotiating",
        [
            _condition("Ready", "False", "FeaturesPending", "P13: 1/4 channels FINAL"),
            _condition("Negotiated", "False", "FeaturesPending"),
            _condition("Degraded", "False", "NotDegraded"),
            _condition("Reconciling", "True", "ProposeFeatures", "proposing channel 2"),
            _condition("Stalled", "False", "NotStalled"),
        ],
    )
    stalled = _link(
        "Failed",
        [
            _condition("Ready", "False", "NoCapacity", "no interconnect has 10000 Mbps free"),
            _condition("Placed", "False", "NoCapacity"),
            _condition("Degraded", "False", "NotDegraded"),
            _condition("Reconciling", "False", "Idle"),
            _condition("Stalled", "True", "NoCapacity", "no interconnect has 10000 Mbps free"),
        ],
    )
    spec_changed = copy.deepcopy(ready)
    spec_changed["metadata"]["generation"] = 4
    terminal_without_stalled = _link(
        "Pending", [_condition("Ready", "False", "KeyRefused", "P3: key already used")]
    )
    paused = _link(
        "Paused",
        [
            _condition("Ready", "False", "Paused"),
            _condition("Reconciling", "False", "Paused"),
            _condition("Stalled", "False", "NotStalled"),
        ],
    )
    reduced = copy.deepcopy(ready)
    reduced["status"]["phase"] = "Degraded"
    reduced["status"]["conditions"][2] = _condition(
        "Degraded", "True", "ReducedRedundancy", "P12: 3/4 channels FINAL on both sides"
    )
    return {
        "ready": ready,
        "negotiating": negotiating,
        "stalled": stalled,
        "spec-changed": spec_changed,
        "no-status": _link(None, []),
        "terminal-reason": terminal_without_stalled,
        "paused": paused,
        "reduced-redundancy": reduced,
    }


def _pool(conditions: list[Obj], observed: int | None = 3) -> Obj:
    status: Obj = {"conditions": conditions}
    if observed is not None:
        status["observedGeneration"] = observed
    return {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "CapacityPool",
        "metadata": {"name": "aws-gcp-us-east", "generation": 3},
        "status": status,
    }


@pytest.fixture
def pool_objects() -> dict[str, Obj]:
    return {
        "ready": _pool(
            [
                _condition("Ready", "True", "Ready"),
                _condition("ProvidersReachable", "True", "Reachable"),
                _condition("InSync", "True", "InSync"),
            ]
        ),
        "syncing": _pool(
            [
                _condition("Ready", "Unknown", "ProvidersReachableUnknown"),
                _condition("ProvidersReachable", "Unknown", "NotYetContacted"),
            ]
        ),
        "unreachable": _pool(
            [
                _condition("Ready", "False", "ProviderUnreachable", "gcp: connection refused"),
                _condition("ProvidersReachable", "False", "ProviderUnreachable", "gcp"),
            ]
        ),
        "spec-changed": _pool([_condition("Ready", "True", "Ready")], observed=2),
    }


HealthFn = Callable[[Mapping[str, Any]], tuple[str, str]]


def _lua_health(script: Path) -> HealthFn:
    """Run an Argo CD health script as Argo CD does: global ``obj``, returns ``hs``."""
    source = script.read_text()

    def health(obj: Mapping[str, Any]) -> tuple[str, str]:
        lua = lupa.LuaRuntime(unpack_returned_tuples=True)
        lua.globals().obj = lua.table_from(obj, recursive=True)
        result = lua.execute(source)
        return str(result["status"]), str(result["message"])

    return health


@pytest.fixture(scope="module")
def link_health() -> HealthFn:
    return _lua_health(ARGOCD / "health-multicloudlink.lua")


@pytest.fixture(scope="module")
def pool_health() -> HealthFn:
    return _lua_health(ARGOCD / "health-capacitypool.lua")


def test_lua_runtime_is_lua_5_1_like_argo_cd() -> None:
    assert lupa.LuaRuntime().eval("_VERSION") == "Lua 5.1"


# case -> (Argo CD health, kstatus, kstatus strict)
LINK_CASES = {
    "ready": ("Healthy", KStatus.CURRENT, KStatus.CURRENT),
    "negotiating": ("Progressing", KStatus.IN_PROGRESS, KStatus.IN_PROGRESS),
    "stalled": ("Degraded", KStatus.FAILED, KStatus.FAILED),
    "spec-changed": ("Progressing", KStatus.IN_PROGRESS, KStatus.IN_PROGRESS),
    # kstatus proper calls an object without status Current (no rule says
    # otherwise); the strict reading and Argo CD wait for the operator.
    "no-status": ("Progressing", KStatus.CURRENT, KStatus.IN_PROGRESS),
    # Ready=False without Stalled=True: kstatus (its Ready-condition rule)
    # keeps waiting where Argo CD's health check already says Degraded.
    "terminal-reason": ("Degraded", KStatus.IN_PROGRESS, KStatus.IN_PROGRESS),
    "paused": ("Suspended", KStatus.IN_PROGRESS, KStatus.IN_PROGRESS),
    # fewer channels than ordered (P12): traffic flows, Argo CD flags it
    "reduced-redundancy": ("Degraded", KStatus.CURRENT, KStatus.CURRENT),
}


@pytest.mark.parametrize("case", LINK_CASES)
def test_argocd_health_of_multicloudlink(
    case: str, link_objects: dict[str, Obj], link_health: HealthFn
) -> None:
    status, message = link_health(link_objects[case])
    assert status == LINK_CASES[case][0], message
    assert message


@pytest.mark.parametrize("case", LINK_CASES)
def test_kstatus_of_multicloudlink(case: str, link_objects: dict[str, Obj]) -> None:
    _, plain, strict = LINK_CASES[case]
    assert compute(link_objects[case]).status is plain
    assert compute(link_objects[case], strict=True).status is strict


def test_health_messages_carry_the_operator_reason(
    link_objects: dict[str, Obj], link_health: HealthFn
) -> None:
    assert "NoCapacity" in link_health(link_objects["stalled"])[1]
    assert "generation 4" in link_health(link_objects["spec-changed"])[1]
    result = compute(link_objects["stalled"])
    assert "10000 Mbps" in result.message


def test_the_kstatus_library_agrees_with_the_python_rules(
    link_objects: dict[str, Obj], pool_objects: dict[str, Obj]
) -> None:
    """sigs.k8s.io/cli-utils' status.Compute (hack/kstatus) is the referee of `compute`."""
    deleting = copy.deepcopy(link_objects["ready"])
    deleting["metadata"]["deletionTimestamp"] = "2026-11-24T10:00:00Z"
    objects = {f"link/{case}": obj for case, obj in link_objects.items()}
    objects |= {f"pool/{case}": obj for case, obj in pool_objects.items()}
    objects["link/terminating"] = deleting
    verdicts = dict(zip(objects, compute_go(list(objects.values())), strict=True))
    for case, obj in objects.items():
        assert compute(obj).status is verdicts[case].status, (case, verdicts[case])
    for case, (_, plain, _) in LINK_CASES.items():
        assert verdicts[f"link/{case}"].status is plain, case
    assert verdicts["link/terminating"].status is KStatus.TERMINATING


def test_kstatus_terminating_wins(link_objects: dict[str, Obj]) -> None:
    deleting = copy.deepcopy(link_objects["ready"])
    deleting["metadata"]["deletionTimestamp"] = "2026-11-24T10:00:00Z"
    assert compute(deleting).status is KStatus.TERMINATING


POOL_CASES = {
    "ready": ("Healthy", KStatus.CURRENT),
    "syncing": ("Progressing", KStatus.IN_PROGRESS),
    "unreachable": ("Degraded", KStatus.IN_PROGRESS),
    "spec-changed": ("Progressing", KStatus.IN_PROGRESS),
}


@pytest.mark.parametrize("case", POOL_CASES)
def test_argocd_health_and_kstatus_of_capacitypool(
    case: str, pool_objects: dict[str, Obj], pool_health: HealthFn
) -> None:
    status, message = pool_health(pool_objects[case])
    assert status == POOL_CASES[case][0], message
    assert compute(pool_objects[case], strict=True).status is POOL_CASES[case][1]


@pytest.mark.parametrize("kind", ["MulticloudLink", "CapacityPool"])
def test_argocd_cm_embeds_the_tested_lua(kind: str) -> None:
    configmap = yaml.safe_load((ARGOCD / "health-checks.yaml").read_text())
    assert configmap["kind"] == "ConfigMap"
    assert configmap["metadata"]["name"] == "argocd-cm"
    script = ARGOCD / f"health-{kind.lower()}.lua"
    assert configmap["data"][HEALTH_KEY.format(kind=kind)] == script.read_text()


def _docs(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_argocd_applications_point_at_the_chart_and_examples(helm: Path, tmp_path: Path) -> None:
    apps = {a["metadata"]["name"]: a for a in _docs(ARGOCD / "application.yaml")}
    assert {a["kind"] for a in apps.values()} == {"Application"}
    chart_app = apps["interconnect-operator"]["spec"]
    examples_app = apps["interconnect-examples"]["spec"]
    assert (REPO / chart_app["source"]["path"] / "Chart.yaml").is_file()
    assert (REPO / examples_app["source"]["path"] / "kustomization.yaml").is_file()
    # the values the Application passes satisfy the chart's schema
    values = tmp_path / "argocd-values.yaml"
    values.write_text(yaml.safe_dump(chart_app["source"]["helm"]["valuesObject"]))
    proc = run_helm(
        helm, "template", "x", str(CHART), "--kube-version", KUBE_VERSION, "-f", str(values)
    )
    assert proc.returncode == 0, proc.stderr


def _flux_source() -> tuple[Obj, pathspec.GitIgnoreSpec]:
    (source,) = _docs(FLUX / "gitrepository.yaml")
    assert source["kind"] == "GitRepository"
    assert source["spec"]["url"].endswith("/interconnect-operator.git")
    return source, pathspec.GitIgnoreSpec.from_lines(source["spec"]["ignore"].splitlines())


def test_flux_gitrepository_carries_the_chart_and_examples_only() -> None:
    _, ignored = _flux_source()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    kept = {path for path in tracked if not ignored.match_file(path)}
    assert "charts/interconnect-operator/Chart.yaml" in kept
    assert "charts/interconnect-operator/templates/deployment.yaml" in kept
    assert "examples/kustomization.yaml" in kept
    assert not {p for p in kept if not p.startswith(("charts/", "examples/"))}
    assert not {p for p in kept if p.startswith("examples/gitops/")}


def test_flux_helmrelease_installs_the_chart_from_the_repository(
    helm: Path, tmp_path: Path
) -> None:
    source, ignored = _flux_source()
    (release,) = _docs(FLUX / "helmrelease.yaml")
    chart = release["spec"]["chart"]["spec"]
    assert chart["sourceRef"] == {"kind": "GitRepository", "name": source["metadata"]["name"]}
    chart_dir = REPO / chart["chart"]
    assert chart_dir.resolve() == CHART.resolve()
    assert not ignored.match_file(f"{chart['chart'].removeprefix('./')}/Chart.yaml")
    values = tmp_path / "flux-values.yaml"
    values.write_text(yaml.safe_dump(release["spec"]["values"]))
    proc = run_helm(
        helm, "template", "x", str(chart_dir), "--kube-version", KUBE_VERSION, "-f", str(values)
    )
    assert proc.returncode == 0, proc.stderr


def test_flux_kustomization_checks_every_example_link_and_pool() -> None:
    (doc,) = _docs(FLUX / "kustomization.yaml")
    kustomization = doc["spec"]
    source, _ = _flux_source()
    assert kustomization["sourceRef"] == {
        "kind": "GitRepository",
        "name": source["metadata"]["name"],
    }
    assert (REPO / kustomization["path"] / "kustomization.yaml").is_file()
    checked = {(c["kind"], c.get("namespace"), c["name"]) for c in kustomization["healthChecks"]}
    examples = REPO / "examples"
    listed = yaml.safe_load((examples / "kustomization.yaml").read_text())["resources"]
    wanted = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
        for name in listed
        for d in _docs(examples / name)
        if d["kind"] in ("MulticloudLink", "CapacityPool")
    }
    assert wanted
    assert checked == wanted
