"""helm template: what the chart renders, toggle by toggle."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from tests.chart.conftest import ALL_ON, REPO, Manifest, Render, by_kind, one

RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
RECOMMENDED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


def _deployment(manifests: list[Manifest]) -> Manifest:
    return one(manifests, "Deployment")


def _container(manifests: list[Manifest]) -> dict[str, Any]:
    containers = _deployment(manifests)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


@pytest.fixture(scope="module")
def defaults(render: Render) -> list[Manifest]:
    return render()


@pytest.fixture(scope="module")
def all_on(render: Render) -> list[Manifest]:
    return render(values=[ALL_ON])


def test_defaults_render_the_expected_kinds(defaults: list[Manifest]) -> None:
    kinds = sorted(m["kind"] for m in defaults)
    assert kinds == sorted(
        [
            "ServiceAccount",
            "CustomResourceDefinition",
            "CustomResourceDefinition",
            "ClusterRole",
            "ClusterRoleBinding",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
            "ClusterRole",
            "ClusterRole",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "NetworkPolicy",
        ]
    )


@pytest.mark.parametrize("values", ["defaults", "all_on"])
def test_pod_runs_with_the_restricted_security_context(
    values: str, request: pytest.FixtureRequest
) -> None:
    manifests: list[Manifest] = request.getfixturevalue(values)
    pod = _deployment(manifests)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(manifests)
    for key, wanted in RESTRICTED_CONTAINER.items():
        assert container["securityContext"][key] == wanted, key
    # read-only root: the only writable place is an emptyDir at /tmp
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert "hostNetwork" not in pod
    assert "hostPID" not in pod


def test_container_has_requests_limits_and_liveness_on_health_port(
    defaults: list[Manifest],
) -> None:
    container = _container(defaults)
    assert set(container["resources"]) == {"requests", "limits"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    probe = container["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert "--liveness=http://0.0.0.0:8081/healthz" in container["args"]
    assert "--metrics-port=8080" in container["args"]


def test_operator_runs_all_namespaces_standalone_by_default(defaults: list[Manifest]) -> None:
    container = _container(defaults)
    args = container["args"]
    assert args[0] == "run"
    assert "--all-namespaces" in args
    assert not any(a.startswith(("--namespace", "--leader-election")) for a in args)
    assert "--log-format=json" in args
    env = {e["name"]: e for e in container["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert _deployment(defaults)["spec"]["strategy"]["type"] == "Recreate"


def test_watch_namespaces_and_leader_election_with_two_replicas(all_on: list[Manifest]) -> None:
    args = _container(all_on)["args"]
    assert "--namespace=team-a" in args
    assert "--namespace=team-b" in args
    assert "--all-namespaces" not in args
    assert "--leader-election" in args
    assert "--leader-election-name=interconnect" in args
    assert "--no-per-link-metrics" in args
    assert args[-1] == "--workers=8"  # extraArgs go last
    assert _deployment(all_on)["spec"]["strategy"]["type"] == "RollingUpdate"


@pytest.mark.parametrize("values", ["defaults", "all_on"])
def test_no_hook_object_an_upgrade_or_sync_could_reset(
    values: str, request: pytest.FixtureRequest
) -> None:
    # The Lease is the operator's own object: no chart hook deletes or re-creates
    # anything that decides which replica acts (helm upgrade, Argo CD sync).
    manifests: list[Manifest] = request.getfixturevalue(values)
    hooks = [m for m in manifests if "helm.sh/hook" in (m["metadata"].get("annotations") or {})]
    assert hooks == []
    kinds = {m["kind"] for m in manifests}
    assert not kinds & {"Lease", "KopfPeering", "ClusterKopfPeering"}


@pytest.mark.parametrize(("replicas", "pdb"), [(1, False), (2, True), (3, True)])
def test_pdb_and_leader_election_only_with_more_than_one_replica(
    render: Render, replicas: int, pdb: bool
) -> None:
    manifests = render(sets=[f"replicaCount={replicas}"])
    assert len(by_kind(manifests, "PodDisruptionBudget")) == (1 if pdb else 0)
    args = _container(manifests)["args"]
    assert ("--leader-election" in args) is pdb
    if pdb:
        budget = one(manifests, "PodDisruptionBudget")
        selector = _deployment(manifests)["spec"]["selector"]["matchLabels"]
        assert budget["spec"]["selector"]["matchLabels"] == selector
        assert budget["spec"]["minAvailable"] == 1


def test_leader_election_can_be_forced_with_one_replica(render: Render) -> None:
    manifests = render(sets=["leaderElection.enabled=true"])
    args = _container(manifests)["args"]
    assert "--leader-election-name=ico-interconnect-operator" in args
    assert by_kind(manifests, "PodDisruptionBudget") == []


@pytest.mark.parametrize("enabled", [True, False])
def test_crds_only_when_enabled(render: Render, enabled: bool) -> None:
    manifests = render(sets=[f"crds.enabled={str(enabled).lower()}"])
    names = {m["metadata"]["name"] for m in by_kind(manifests, "CustomResourceDefinition")}
    project = {"capacitypools.interconnect.io", "multicloudlinks.interconnect.io"}
    assert (names == project) if enabled else (names == set())


def test_crds_are_the_generated_ones_and_kept(defaults: list[Manifest]) -> None:
    rendered = {m["metadata"]["name"]: m for m in by_kind(defaults, "CustomResourceDefinition")}
    sources = sorted((REPO / "crds").glob("*.yaml"))
    assert len(sources) == 2
    for source in sources:
        crd = yaml.safe_load(source.read_text())
        got = rendered[crd["metadata"]["name"]]
        # fromYaml/toYaml in the template must not alter the schema (numbers, order)
        assert got["spec"] == crd["spec"]
        assert got["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_crds_keep_can_be_switched_off(render: Render) -> None:
    manifests = render(sets=["crds.keep=false"])
    for crd in by_kind(manifests, "CustomResourceDefinition"):
        assert "helm.sh/resource-policy" not in (crd["metadata"].get("annotations") or {})


@pytest.mark.parametrize("values", ["defaults", "all_on"])
def test_every_object_has_the_recommended_labels(
    values: str, request: pytest.FixtureRequest
) -> None:
    manifests: list[Manifest] = request.getfixturevalue(values)
    for manifest in manifests:
        labels = manifest["metadata"].get("labels") or {}
        missing = [k for k in RECOMMENDED_LABELS if k not in labels]
        assert not missing, f"{manifest['kind']}/{manifest['metadata']['name']}: {missing}"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
    pod_labels = _deployment(manifests)["spec"]["template"]["metadata"]["labels"]
    assert all(k in pod_labels for k in RECOMMENDED_LABELS)


def test_monitoring_objects_are_off_by_default(defaults: list[Manifest]) -> None:
    kinds = {m["kind"] for m in defaults}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ConfigMap", "PodDisruptionBudget"}


def test_service_monitor_scrapes_the_metrics_service(all_on: list[Manifest]) -> None:
    monitor = one(all_on, "ServiceMonitor")
    service = one(all_on, "Service", "-metrics")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert service["spec"]["ports"][0]["name"] == "metrics"
    selector = service["spec"]["selector"]
    pod_labels = _deployment(all_on)["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()


def test_prometheus_rule_carries_the_project_alerts(all_on: list[Manifest]) -> None:
    rule = one(all_on, "PrometheusRule")
    alerts = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yaml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    # Prometheus' own templates reach the rule untouched by Helm
    text = json.dumps(rule["spec"])
    assert "{{ $labels." in text


def test_grafana_dashboard_configmap(all_on: list[Manifest]) -> None:
    configmap = one(all_on, "ConfigMap", "-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Networking"}
    (payload,) = configmap["data"].values()
    source = json.loads((REPO / "deploy" / "grafana" / "dashboard.json").read_text())
    assert json.loads(payload) == source


def test_image_digest_wins_over_tag(render: Render, all_on: list[Manifest]) -> None:
    assert _container(all_on)["image"].endswith("@sha256:" + "0123456789abcdef" * 4)
    tagged = render(sets=["image.tag=1.2.3"])
    assert _container(tagged)["image"].endswith("interconnect-operator:1.2.3")


def test_service_monitor_needs_the_metrics_service(render_text: Any) -> None:
    with pytest.raises(AssertionError, match=r"needs metrics\.service\.enabled"):
        render_text(sets=["metrics.serviceMonitor.enabled=true", "metrics.service.enabled=false"])


@pytest.mark.parametrize("values", ["defaults", "all_on"])
def test_rendered_arguments_parse_with_the_operator_cli(
    values: str, request: pytest.FixtureRequest
) -> None:
    from interconnect_operator.cli import build_parser

    manifests: list[Manifest] = request.getfixturevalue(values)
    container = _container(manifests)
    args = build_parser().parse_args(container["args"])
    assert args.command == "run"
    assert args.metrics_port == 8080
    assert args.metrics_host == "0.0.0.0"
    assert args.metrics_shared_uuid is False
    assert args.liveness == "http://0.0.0.0:8081/healthz"
    if values == "defaults":
        assert args.all_namespaces
        assert args.leader_election is False
    else:
        assert args.namespace == ["team-a", "team-b"]
        assert args.leader_election is True
        assert args.leader_election_name == "interconnect"
        assert args.per_link_metrics is False


def test_the_admission_policy_exempts_only_the_operator_and_can_be_turned_off(
    defaults: list[Manifest], render: Render
) -> None:
    policy = next(m for m in defaults if m["kind"] == "ValidatingAdmissionPolicy")
    conditions = {c["name"]: c["expression"] for c in policy["spec"]["matchConditions"]}
    sa = _deployment(defaults)["spec"]["template"]["spec"]["serviceAccountName"]
    assert f"system:serviceaccount:interconnect-system:{sa}'" in conditions["not-the-operator"]
    assert len(policy["spec"]["validations"]) == 2
    binding = next(m for m in defaults if m["kind"] == "ValidatingAdmissionPolicyBinding")
    assert binding["spec"]["policyName"] == policy["metadata"]["name"]
    assert binding["spec"]["validationActions"] == ["Deny"]
    off = render(sets=["admissionPolicy.enabled=false"])
    assert not [m for m in off if m["kind"].startswith("ValidatingAdmission")]


def test_the_network_policy_admits_only_the_scrape_and_the_probes(
    defaults: list[Manifest], render: Render
) -> None:
    policy = one(defaults, "NetworkPolicy")
    pod_labels = _deployment(defaults)["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    ports = [rule["ports"] for rule in policy["spec"]["ingress"]]
    assert ports == [
        [{"port": "metrics", "protocol": "TCP"}],
        [{"port": "health", "protocol": "TCP"}],
    ]
    named = {p["name"] for p in _container(defaults)["ports"]}
    assert named == {"metrics", "health"}
    monitoring = [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
    scoped = render(
        sets=[
            "networkPolicy.metricsFrom[0].namespaceSelector.matchLabels.name=monitoring",
        ]
    )
    assert one(scoped, "NetworkPolicy")["spec"]["ingress"][0]["from"] == monitoring
    off = render(sets=["networkPolicy.enabled=false"])
    assert not [m for m in off if m["kind"] == "NetworkPolicy"]


def test_bind_addresses_and_the_uuid_label_switch_reach_the_operator(render: Render) -> None:
    from interconnect_operator.cli import build_parser

    manifests = render(
        sets=[
            "metrics.bindAddress=127.0.0.1",
            "metrics.sharedUuidLabel=true",
            "health.bindAddress=10.0.0.1",
        ]
    )
    args = build_parser().parse_args(_container(manifests)["args"])
    assert args.metrics_host == "127.0.0.1"
    assert args.metrics_shared_uuid is True
    assert args.liveness == "http://10.0.0.1:8081/healthz"


def test_shards_render_one_deployment_lease_and_budget_each(render: Render) -> None:
    from interconnect_operator.cli import build_parser
    from interconnect_operator.k8s.policy import selector_matches

    shards = [
        {"name": "a", "poolSelector": "interconnect.io/shard=a"},
        {"name": "b", "poolSelector": "interconnect.io/shard in (b,c)"},
    ]
    manifests = render(sets=["replicaCount=2"], set_json=[f"shards={json.dumps(shards)}"])
    deployments = by_kind(manifests, "Deployment")
    budgets = by_kind(manifests, "PodDisruptionBudget")
    assert [d["metadata"]["name"] for d in deployments] == [
        "ico-interconnect-operator-a",
        "ico-interconnect-operator-b",
    ]
    selectors = []
    for deployment, budget, shard in zip(deployments, budgets, shards, strict=True):
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector["interconnect.io/shard"] == shard["name"]
        assert budget["spec"]["selector"]["matchLabels"] == selector
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        args = build_parser().parse_args(
            deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        )
        assert args.leader_election_name == f"ico-interconnect-operator-{shard['name']}"
        selectors.append(args.pool_selector)
    # The shards' Deployments never select each other's pods, and each owns its pools.
    a_pods = deployments[0]["spec"]["template"]["metadata"]["labels"]
    assert not deployments[1]["spec"]["selector"]["matchLabels"].items() <= a_pods.items()
    assert selector_matches(selectors[0], {"interconnect.io/shard": "a"})
    assert not selector_matches(selectors[1], {"interconnect.io/shard": "a"})
    assert selector_matches(selectors[1], {"interconnect.io/shard": "c"})


def test_a_shard_needs_a_dns_label_name_and_a_selector(render_text: Any) -> None:
    for bad in ([{"name": "A_1", "poolSelector": "x=y"}], [{"name": "a"}]):
        with pytest.raises(AssertionError, match="shards"):
            render_text(set_json=[f"shards={json.dumps(bad)}"])


def test_workload_identity_values_annotate_the_service_account(render: Render) -> None:
    manifests = render(
        sets=[
            "serviceAccount.awsRoleArn=arn:aws:iam::111122223333:role/interconnect",
            "serviceAccount.gcpServiceAccount=ico@demo-project.iam.gserviceaccount.com",
            "serviceAccount.googleCloudProject=demo-project",
            "serviceAccount.annotations.team=network",
        ]
    )
    annotations = one(manifests, "ServiceAccount")["metadata"]["annotations"]
    assert annotations == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/interconnect",
        "iam.gke.io/gcp-service-account": "ico@demo-project.iam.gserviceaccount.com",
        "team": "network",
    }
    env = {e["name"]: e.get("value") for e in _container(manifests)["env"]}
    assert env["GOOGLE_CLOUD_PROJECT"] == "demo-project"


def test_no_ambient_identity_by_default(defaults: list[Manifest]) -> None:
    assert "annotations" not in one(defaults, "ServiceAccount")["metadata"]
    names = {e["name"] for e in _container(defaults)["env"]}
    assert "GOOGLE_CLOUD_PROJECT" not in names


def test_the_pod_name_reaches_the_operator_for_its_events(defaults: list[Manifest]) -> None:
    env = {e["name"]: e for e in _container(defaults)["env"]}
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
