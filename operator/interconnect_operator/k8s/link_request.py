"""What a stored link carries into the reconciler: its spec, Secrets and old status.

Pure functions of the link's body (no Kubernetes calls): the ``LinkRequest``
a reconcile hands to the pool's driver, the facts the stored status carries
from one reconcile into the next (the UUID written ahead, placement, peer
intent, deferral), the failure recorded for this generation, and which
generation a status describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interconnect_operator.k8s import status as status_mod
from interconnect_operator.k8s.customer_pools import customer_target
from interconnect_operator.k8s.index import LinkKey, shared_uuid
from interconnect_operator.k8s.resources import LinkConnectionType, MulticloudLinkSpec, is_paused
from interconnect_operator.protocol.types import DeletionPolicy as ProtoDeletionPolicy
from interconnect_operator.protocol.types import FailureRecord, LinkSpec, Secret
from interconnect_operator.protocol.types import PeerDeletionPolicy as ProtoPeerDeletionPolicy
from interconnect_operator.reconcile.link import LinkRequest

__all__ = [
    "GATE_VERDICTS",
    "build_request",
    "carried_over",
    "failure_record",
    "observed_generation",
]


def build_request(
    key: LinkKey,
    body: Mapping[str, Any],
    spec: MulticloudLinkSpec,
    *,
    generation: int,
    deleting: bool,
    activation_key: Secret | None,
    md5: Secret | None,
) -> LinkRequest:
    """The reconciler's input from a stored link: its spec, Secrets, and what status carries."""
    meta = body["metadata"]
    link_spec = LinkSpec(
        bandwidth_mbps=spec.bandwidth_mbps,
        ipv6=spec.ipv6,
        mtu=spec.mtu,
        bgp_asn=spec.bgp.asn if spec.bgp is not None else None,
        max_prefixes=spec.bgp.max_prefixes if spec.bgp is not None else None,
        deletion_policy=ProtoDeletionPolicy(spec.deletion_policy.value),
        on_peer_deletion=ProtoPeerDeletionPolicy(spec.on_peer_deletion.value),
        paused=is_paused(meta.get("annotations") or {}),
        generation=generation,
        md5=md5,
        test_connection=spec.connection_type is LinkConnectionType.TEST,
    )
    return LinkRequest(
        namespace=key[0],
        name=key[1],
        spec=link_spec,
        activation_key=activation_key,
        destination_account_id=spec.destination_account_id,
        deleting=deleting,
        created_at=status_mod.parse_time(meta.get("creationTimestamp")),
        customer=customer_target(body, spec),
        **carried_over(body, generation),
    )


def carried_over(body: Mapping[str, Any], generation: int) -> dict[str, Any]:
    """What a stored link carries from one reconcile into the next request.

    The shared UUID written ahead (or shown in status), the interconnect the
    link was placed on, whether it was ever Ready, and a failure recorded for
    this very generation; which providers held the connection (peer intent,
    P19) and when a deferred creation reached the peer (P23). Keyword
    arguments of ``LinkRequest``.
    """
    old_status = body.get("status") or {}
    return {
        "shared_uuid": shared_uuid(body),
        "interconnect": old_status.get("interconnect"),
        "ever_ready": bool(old_status.get("readyTime")),
        "failure": failure_record(old_status, generation),
        "existed_on": status_mod.existed_on(old_status),
        "prefix_limits": status_mod.prefix_limits(old_status),
        "request_ids": status_mod.pending_requests(old_status),
        "deferred_since": status_mod.parse_time(old_status.get("deferredSince")),
    }


#: Refusals the gate decides afresh on every reconcile: never carried into the
#: reconciler as a stored failure, so a verdict that no longer holds (e.g. an
#: ownership record that now names the link) does not keep the link Failed.
GATE_VERDICTS = frozenset({"UuidNotOwned"})


def failure_record(old_status: Mapping[str, Any], generation: int) -> FailureRecord | None:
    """The stored failure of this very generation (a Failed link stays failed until edited)."""
    if old_status.get("phase") != "Failed" or old_status.get("observedGeneration") != generation:
        return None
    stalled = next(
        (c for c in old_status.get("conditions") or [] if c.get("type") == "Stalled"), None
    )
    if stalled is None or stalled.get("status") != "True" or stalled.get("reason") in GATE_VERDICTS:
        return None
    return FailureRecord(str(stalled.get("reason")), str(stalled.get("message")), generation)


def observed_generation(request: LinkRequest, old_status: Mapping[str, Any]) -> int:
    """The generation the status describes.

    While paused, a spec change is not acted on, so the status keeps the last
    generation it did act on: kstatus, Argo CD and Flux then see the change as
    not reconciled yet instead of reading Ready for a spec never applied.
    """
    old = old_status.get("observedGeneration")
    if request.spec.paused and isinstance(old, int):
        return old
    return request.spec.generation
