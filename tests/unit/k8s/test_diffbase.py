"""kopf builds no essence of watched bodies: safe only while no change handler exists."""

from __future__ import annotations

import kopf

from interconnect_operator.k8s import handlers


def test_the_operator_registers_no_change_handlers_or_daemons() -> None:
    # An empty essence is right only because nothing reads kopf's diff: a change
    # handler (on.create/update/resume/field/delete) or a daemon/timer would.
    registry = kopf.get_default_registry()
    assert registry._changing.get_all_handlers() == []
    assert registry._spawning.get_all_handlers() == []
    assert len(registry._watching.get_all_handlers()) == 2  # links and pools, on.event


def test_no_essence_is_built_and_none_would_be_stored() -> None:
    storage = handlers.EssenceFreeDiffBase(prefix="interconnect.io")
    body = kopf.Body(
        {
            "apiVersion": "interconnect.io/v1alpha1",
            "kind": "MulticloudLink",
            "metadata": {"name": "a", "namespace": "t", "labels": {"x": "y"}},
            "spec": {"poolRef": {"name": "p"}, "bandwidthMbps": 1000},
        }
    )
    essence = storage.build(body=body)
    assert essence == {}
    # The stock storage would have copied the spec and labels.
    stock = kopf.AnnotationsDiffBaseStorage(prefix="interconnect.io").build(body=body)
    assert stock["spec"] == {"poolRef": {"name": "p"}, "bandwidthMbps": 1000}
