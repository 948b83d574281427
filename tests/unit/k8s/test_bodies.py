"""Compact copies of kept objects: equal content, shared strings, no managedFields."""

from __future__ import annotations

import json

from interconnect_operator.k8s.bodies import compact, compact_object


def _decoded(name: str) -> dict[str, object]:
    # Decoded separately, as two watch events would be: equal strings, distinct objects.
    return json.loads(
        json.dumps(
            {
                "apiVersion": "interconnect.io/v1alpha1",
                "metadata": {
                    "name": name,
                    "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}],
                    "finalizers": ["interconnect.io/link"],
                },
                "status": {"conditions": [{"type": "Ready", "reason": "Ready" + "Reason"}]},
            }
        )
    )


def test_compact_object_is_an_equal_private_copy_without_managed_fields() -> None:
    original = _decoded("a")
    copy = compact_object(original)
    expected = dict(original.items())
    expected["metadata"] = {k: v for k, v in original["metadata"].items() if k != "managedFields"}  # type: ignore[attr-defined]
    assert copy == expected
    copy["metadata"]["finalizers"].append("other")
    copy["status"]["conditions"][0]["reason"] = "Changed"
    assert original["metadata"]["finalizers"] == ["interconnect.io/link"]  # type: ignore[index]
    assert original["status"]["conditions"][0]["reason"] == "ReadyReason"  # type: ignore[index]


def test_equal_strings_of_two_bodies_are_one_object() -> None:
    first, second = _decoded("a"), _decoded("b")
    raw_a = first["status"]["conditions"][0]["reason"]  # type: ignore[index]
    raw_b = second["status"]["conditions"][0]["reason"]  # type: ignore[index]
    assert raw_a == raw_b
    assert raw_a is not raw_b
    a, b = compact_object(first), compact_object(second)
    assert a["status"]["conditions"][0]["reason"] is b["status"]["conditions"][0]["reason"]


def test_compact_keeps_scalars_and_turns_tuples_into_lists() -> None:
    assert compact({"n": 1, "f": 1.5, "b": True, "z": None, "t": ("x", 2)}) == {
        "n": 1,
        "f": 1.5,
        "b": True,
        "z": None,
        "t": ["x", 2],
    }
