"""Bad input, generated: every spec is refused at admission or answered with a reason.

Hypothesis generates MulticloudLink and CapacityPool specs, valid and not,
and sends them to the real API server as a user would (admin client). Each
one is either rejected at admission with a message that names what is wrong,
or accepted and then described by the operator with a condition carrying a
specific reason (Ready, or why not). Meanwhile the operator must neither crash
nor loop hot (provider calls over a few quiet seconds stay bounded), and no
provider object may exist for a link refused for its configuration.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tests.e2e.conftest import Stack
from tests.e2e.faults.rig import record_summary
from tests.support.stack import condition, is_ready, wait_for

pytestmark = pytest.mark.e2e

GROUP, VERSION = "interconnect.io", "v1alpha1"
# Reasons for a link the operator cannot take because of its configuration:
# no provider object may exist for such a link.
CONFIG_REASONS = frozenset(
    {
        "InvalidSpec",
        "PoolNotFound",
        "PoolNotReady",
        "SecretNotFound",
        "LinkSecretRefused",
        "SecretKeyMissing",
        "SecretForbidden",
        "SecretMalformed",
        "InvalidActivationKey",
        "PolicyDenied",
        "BandwidthNotOffered",
    }
)
IN_PROGRESS = frozenset(
    {"", "Pending", "Placing", "Negotiating", "Provisioning", "Verifying", "Reconciling"}
)
REASON = re.compile(r"^[A-Z][A-Za-z0-9]+$")
EXAMPLES_LINKS = 30
EXAMPLES_POOLS = 15
QUIET_SECONDS = 5.0
# Calls both simulators may see in QUIET_SECONDS with every link settled: the
# bulk refreshes of the session's pools, far below a per-link hot loop.
QUIET_CALL_BOUND = 150


# A spec is a semantically varied but admissible base plus at most one
# corruption of one field (admission must catch it), so that about half the
# examples reach the operator.
CORRUPTIONS: list[tuple[str, Any]] = [
    ("poolRef", {}),
    ("poolRef", {"name": "Not_A_Name"}),
    ("bandwidthMbps", 0),
    ("bandwidthMbps", -5),
    ("bandwidthMbps", "lots"),
    ("bandwidthMbps", 10**9),
    ("mtu", 100),
    ("ipv6", "yes"),
    ("deletionPolicy", "Destroy"),
    ("bgp", {"asn": 0}),
    ("bgp", {"asn": 2**40}),
    ("destinationAccountId", ""),
    ("activationKey", {"secretRef": {}}),
]


def _corrupt(
    base: dict[str, Any], corruption: tuple[str, Any] | None, both: bool
) -> dict[str, Any]:
    spec = dict(base)
    if both:  # both key sources: the CEL rule refuses it
        spec["activationKey"] = {"secretRef": {"name": "junk-key"}}
        spec["destinationAccountId"] = "123456789012"
    if corruption is not None:
        field, value = corruption
        spec[field] = value
    return spec


def link_specs(pool: str) -> st.SearchStrategy[dict[str, Any]]:
    key_source = st.one_of(
        st.fixed_dictionaries(
            {"destinationAccountId": st.sampled_from(["123456789012", "x"]) | st.text(min_size=1)}
        ),
        st.fixed_dictionaries(
            {
                "activationKey": st.fixed_dictionaries(
                    {
                        "secretRef": st.fixed_dictionaries(
                            {"name": st.sampled_from(["missing-secret", "junk-key", "empty-key"])},
                            optional={"key": st.sampled_from(["activationKey", "nope"])},
                        )
                    }
                )
            }
        ),
    )
    base = st.fixed_dictionaries(
        {
            "poolRef": st.fixed_dictionaries(
                {"name": st.sampled_from([pool, pool, pool, "no-such-pool"])}
            ),
            "bandwidthMbps": st.sampled_from([1000, 2000, 1234, 300000]),
        },
        optional={
            "bgp": st.fixed_dictionaries(
                {},
                optional={
                    "asn": st.sampled_from([64512, 16550, 65000, 4294967295]),
                    "md5SecretRef": st.fixed_dictionaries({"name": st.just("missing-md5")}),
                },
            ),
            "mtu": st.sampled_from([1500, 8896, 600, 9216]),
            "ipv6": st.booleans(),
            "deletionPolicy": st.sampled_from(["Delete", "Orphan"]),
            "colour": st.text(max_size=10),  # unknown field: pruned, never an error
        },
    )
    return st.builds(
        lambda b, k, c, both: _corrupt({**b, **k}, c, both),
        base,
        key_source,
        st.none() | st.sampled_from(CORRUPTIONS),
        st.sampled_from([False, False, False, True]),
    )


POOL_CORRUPTIONS: list[tuple[str, Any]] = [
    ("environment", ""),
    ("providers", []),
    ("refreshInterval", 1),
    ("policy", {"headroomMbps": -1}),
]


def pool_specs() -> st.SearchStrategy[dict[str, Any]]:
    def provider(name: str, role: str) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {
                "name": st.just(name),
                # Never a real endpoint: nothing listens on port 1 or on .invalid.
                "endpoint": st.sampled_from(
                    ["http://127.0.0.1:1", "https://nowhere.invalid/api", "ftp://x.example"]
                ),
                "role": st.sampled_from([role, role, "Negotiator"]),
            },
            optional={
                "auth": st.sampled_from(
                    [
                        {"type": "None"},
                        {"type": "Bearer", "secretRef": {"name": "no-such-creds"}},
                        {"type": "MTLS", "secretRef": {"name": "no-such-creds"}},
                        {"type": "Bearer"},
                        {"type": "None", "region": "x"},
                    ]
                ),
                "callAs": st.sampled_from(["gcp", "Bad_Name"]),
            },
        )

    base = st.fixed_dictionaries(
        {
            "environment": st.sampled_from(["aws-gcp-us-east", "elsewhere"]),
            "providers": st.tuples(provider("aws", "Responder"), provider("gcp", "Negotiator")).map(
                list
            ),
        },
        optional={"refreshInterval": st.sampled_from([5, 30])},
    )
    return st.builds(
        lambda b, c: {**b, **({c[0]: c[1]} if c else {})},
        base,
        st.none() | st.sampled_from(POOL_CORRUPTIONS),
    )


def _admission_message(exc: ApiException) -> str:
    import json

    try:
        return str(json.loads(exc.body or "{}").get("message", ""))
    except ValueError:
        return str(exc.body)


def _check_rejections(rejected: list[tuple[int, str]]) -> None:
    """Admission refusals are 4xx Invalid with a message naming the field or rule."""
    for status, message in rejected:
        assert status in (400, 422), (status, message)
        assert "spec" in message, message


def _total_calls(stack: Stack) -> int:
    return sum(int(sim.stats().get("total", 0)) for sim in (stack.aws, stack.gcp))


def _secrets(core: client.CoreV1Api, namespace: str) -> None:
    for name, value in (("junk-key", "not-an-activation-key"), ("empty-key", "")):
        core.create_namespaced_secret(
            namespace,
            client.V1Secret(
                metadata=client.V1ObjectMeta(name=name), string_data={"activationKey": value}
            ),
        )


def _settled(obj: dict[str, Any] | None) -> bool:
    if obj is None or is_ready(obj):
        return obj is not None
    ready = condition(obj, "Ready")
    stalled = condition(obj, "Stalled")
    if ready is None:
        return False
    if stalled is not None and stalled.get("status") == "True":
        return True
    return ready.get("reason") in CONFIG_REASONS


def test_generated_links_are_rejected_or_explained_and_never_crash_the_operator(
    stack: Stack, namespace: str, k8s_api: ApiClient
) -> None:
    custom = client.CustomObjectsApi(k8s_api)
    _secrets(client.CoreV1Api(k8s_api), namespace)
    rejected: list[tuple[int, str]] = []
    accepted: list[str] = []

    @settings(
        max_examples=EXAMPLES_LINKS,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=link_specs(stack.pool))
    def create(spec: dict[str, Any]) -> None:
        name = f"gen-{secrets.token_hex(4)}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "MulticloudLink",
            "metadata": {"name": name},
            "spec": spec,
        }
        try:
            custom.create_namespaced_custom_object(
                GROUP, VERSION, namespace, "multicloudlinks", body
            )
        except ApiException as exc:
            rejected.append((int(exc.status or 0), _admission_message(exc)))
            return
        accepted.append(name)

    create()
    _check_rejections(rejected)

    def all_settled() -> bool:
        return all(_settled(stack.kube.try_get("mcl", n, namespace)) for n in accepted)

    wait_for(all_settled, 120, f"{len(accepted)} accepted links settled", 1.0)
    reasons: Counter[str] = Counter()
    state_aws, state_gcp = stack.aws.state(), stack.gcp.state()
    held = {c["connection"] for s in (state_aws, state_gcp) for c in s["connections"]}
    for name in accepted:
        obj = stack.kube.get("mcl", name, namespace)
        ready = condition(obj, "Ready")
        assert ready is not None
        reason = str(ready.get("reason"))
        reasons[reason] += 1
        assert REASON.match(reason), f"{name}: reason {reason!r} is not specific"
        assert ready.get("message") or is_ready(obj), f"{name}: no message"
        if reason in CONFIG_REASONS:
            uuid = (obj.get("status") or {}).get("sharedConnectionUuid") or (
                obj["metadata"].get("annotations") or {}
            ).get("interconnect.io/shared-connection-uuid")
            assert uuid is None or uuid not in held, f"{name}: provider objects for {reason}"

    # No hot loop: with everything settled, provider calls stay bounded.
    before = _total_calls(stack)
    time.sleep(QUIET_SECONDS)
    quiet_calls = _total_calls(stack) - before
    record_summary(
        "bad input: generated links",
        examples=len(rejected) + len(accepted),
        rejected_at_admission=len(rejected),
        accepted=len(accepted),
        reasons=dict(reasons),
        provider_calls_while_quiet=quiet_calls,
        operator_alive=stack.operator.alive(),
    )
    assert stack.operator.alive()
    assert quiet_calls <= QUIET_CALL_BOUND
    for name in accepted:
        stack.kube.delete("mcl", name, namespace)


def test_generated_pools_are_rejected_or_explained_and_never_crash_the_operator(
    stack: Stack, k8s_api: ApiClient
) -> None:
    custom = client.CustomObjectsApi(k8s_api)
    rejected: list[tuple[int, str]] = []
    accepted: list[str] = []

    @settings(
        max_examples=EXAMPLES_POOLS,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(spec=pool_specs())
    def create(spec: dict[str, Any]) -> None:
        name = f"gen-pool-{secrets.token_hex(4)}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "CapacityPool",
            "metadata": {"name": name},
            "spec": spec,
        }
        try:
            custom.create_cluster_custom_object(GROUP, VERSION, "capacitypools", body)
        except ApiException as exc:
            rejected.append((int(exc.status or 0), _admission_message(exc)))
            return
        accepted.append(name)

    try:
        create()
        _check_rejections(rejected)

        def explained(name: str) -> bool:
            ready = condition(stack.kube.try_get("cpool", name), "Ready")
            return bool(ready and ready.get("reason") and ready.get("status") == "False")

        wait_for(
            lambda: all(explained(n) for n in accepted),
            90,
            f"{len(accepted)} accepted pools explained by a condition",
            1.0,
        )
        reasons = Counter(
            str(condition(stack.kube.get("cpool", n), "Ready")["reason"])  # type: ignore[index]
            for n in accepted
        )
        assert all(REASON.match(r) for r in reasons), reasons
        record_summary(
            "bad input: generated pools",
            examples=len(rejected) + len(accepted),
            rejected_at_admission=len(rejected),
            accepted=len(accepted),
            reasons=dict(reasons),
        )
        assert stack.operator.alive()
    finally:
        for name in accepted:
            stack.kube.delete("cpool", name)
