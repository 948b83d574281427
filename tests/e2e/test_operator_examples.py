"""Every example in examples/ applies and its links become Ready on two real simulators.

The examples are rendered with ``kubectl kustomize examples/`` (the path a
GitOps tool takes), then only what ties them to a machine is rewritten: the
pool's endpoints point at two simulators started here (with the very tokens
of ``pool-secrets.yaml``) and the credentials Secret goes to the operator's
namespace of the rig. The negotiated parameters in each link's status must
be what BOTH providers hold (P8-P11).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import (
    REPO,
    Stack,
    api_features,
    release_links,
    sim_connections,
    sim_features,
)
from tests.support.stack import Simulator, is_ready, start_simulator, wait_for

pytestmark = pytest.mark.e2e

EXAMPLES = REPO / "examples"
LINKS = {"basic": 1000, "dual-stack": 2000, "large": 10000}


def _rendered(stack: Stack) -> list[dict[str, Any]]:
    out = stack.kube.run("kustomize", str(EXAMPLES))
    return [d for d in yaml.safe_load_all(out) if d]


def test_kustomization_renders_every_example(stack: Stack) -> None:
    docs = _rendered(stack)
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert kinds == [
        ("CapacityPool", "aws-gcp-us-east"),
        ("MulticloudLink", "basic"),
        ("MulticloudLink", "dual-stack"),
        ("MulticloudLink", "large"),
        ("Namespace", "interconnect-system"),
        ("Namespace", "team-a"),
        ("Secret", "provider-credentials"),
    ]
    # Every example file is listed in the Kustomization (none forgotten).
    listed = set(yaml.safe_load((EXAMPLES / "kustomization.yaml").read_text())["resources"])
    on_disk = {p.name for p in EXAMPLES.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


@pytest.fixture
def example_sims(stack: Stack, e2e_log_dir: Path) -> Iterator[tuple[Simulator, Simulator]]:
    """Two simulators accepting exactly the tokens of examples/pool-secrets.yaml."""
    secret = yaml.safe_load((EXAMPLES / "pool-secrets.yaml").read_text())["stringData"]
    aws = start_simulator(
        "aws", log_dir=e2e_log_dir, tokens={"gcp": secret["aws-token"]}, provisioning_delay=0.5
    )
    gcp = start_simulator(
        "gcp", log_dir=e2e_log_dir, tokens={"aws": secret["gcp-token"]}, provisioning_delay=0.5
    )
    try:
        yield aws, gcp
    finally:
        release_links(stack.kube, "aws-gcp-us-east")
        stack.kube.delete("cpool", "aws-gcp-us-east")
        aws.stop()
        gcp.stop()


def _point_at(docs: list[dict[str, Any]], stack: Stack, aws: Simulator, gcp: Simulator) -> None:
    urls = {"aws": aws.url, "gcp": gcp.url}
    for doc in docs:
        if doc["kind"] == "Secret":
            doc["metadata"]["namespace"] = stack.operator_namespace
        if doc["kind"] == "CapacityPool":
            for provider in doc["spec"]["providers"]:
                provider["endpoint"] = urls[provider["name"]]
            doc["spec"]["refreshInterval"] = 5


def test_examples_become_ready_with_parameters_both_providers_hold(
    stack: Stack, example_sims: tuple[Simulator, Simulator]
) -> None:
    aws, gcp = example_sims
    docs = _rendered(stack)
    _point_at(docs, stack, aws, gcp)
    stack.kube.apply(docs)

    def all_ready() -> list[Any] | None:
        items = [stack.kube.try_get("mcl", name, "team-a") for name in LINKS]
        return items if all(is_ready(i) for i in items) else None

    links = {i["metadata"]["name"]: i for i in wait_for(all_ready, 90, "example links Ready")}

    # Printer columns: Ready and Phase as a person sees them.
    table = stack.kube.run("get", "mcl", "-n", "team-a").splitlines()
    header = table[0].split()
    assert header[:6] == ["NAME", "POOL", "BANDWIDTH", "INTERCONNECT", "READY", "PHASE"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    for name, bandwidth in LINKS.items():
        assert rows[name][1:3] == ["aws-gcp-us-east", str(bandwidth)]
        assert rows[name][3] == links[name]["status"]["interconnect"]
        assert rows[name][4:6] == ["True", "Ready"]

    for name, bandwidth in LINKS.items():
        status = links[name]["status"]
        uuid = status["sharedConnectionUuid"]
        ix = status["interconnect"]
        assert status["phase"] == "Ready"
        assert status["environment"] == "aws-gcp-us-east"
        for sim in (aws, gcp):
            (conn,) = sim_connections(sim, uuid)
            assert conn["interconnect"] == ix
            assert conn["bandwidthMbps"] == bandwidth
            assert conn["verificationState"] == "VERIFICATION_STATE_VERIFIED"
        _check_channels(name, status, aws, gcp)


def _check_channels(name: str, status: dict[str, Any], aws: Simulator, gcp: Simulator) -> None:
    uuid, ix, env = status["sharedConnectionUuid"], status["interconnect"], status["environment"]
    channels = {c["id"]: c for c in status["channels"]}
    assert sorted(channels) == ["ch1", "ch2", "ch3", "ch4"]
    for sim in (aws, gcp):
        held = {f["channel"]: f for f in sim_features(sim, uuid)}
        assert sorted(held) == sorted(channels), sim.provider_id
        for ch, feature in held.items():
            shown = channels[ch]
            assert feature["vlanId"] == shown["vlan"] > 1024  # P10
            assert feature["ipv4Subnet"] == shown["ipv4Subnet"]
            assert feature["mtuBytes"] == shown["mtu"]
            assert feature["ipv6Subnet"] == shown.get("ipv6Subnet")
            assert feature["provisioningState"] == "PROVISIONING_STATE_FINAL"
        # BGP ends (P11) through the provider API: both providers, each end.
        for feature in api_features(sim, env, ix, uuid):
            ch = feature["channel"].rsplit("/", 1)[-1]
            l3 = feature["featureConfig"]["l3BaseConfig"]
            api_ends = {
                b["provider"].rsplit("/", 1)[-1]: (int(b["asn"]), b["hostIpv4"])
                for b in l3["providerBgpConfigs"]
            }
            shown_ends = {b["provider"]: (b["asn"], b["address"]) for b in channels[ch]["bgp"]}
            assert api_ends == shown_ends, (sim.provider_id, ch)
    for ch in channels.values():
        subnet = ipaddress.ip_network(ch["ipv4Subnet"])
        addresses = {ipaddress.ip_address(b["address"]) for b in ch["bgp"]}
        assert len(addresses) == 2
        assert all(a in subnet for a in addresses)
    if name == "dual-stack":
        assert all(c.get("ipv6Subnet") for c in channels.values())
        assert {c["mtu"] for c in channels.values()} == {8896}  # P9: highest both offer
    else:
        assert not any(c.get("ipv6Subnet") for c in channels.values())
