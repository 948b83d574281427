"""Compact copies of kept objects: equal content, shared strings and sub-values, no
managedFields, canonical entries dropped once nothing refers to them."""

from __future__ import annotations

import gc
import json

from interconnect_operator.k8s import bodies
from interconnect_operator.k8s.bodies import canonical_entries, compact, compact_object, decode
from interconnect_operator.k8s.settings import UUID_ANNOTATION


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
    # The copy's metadata is private (a write's answer is taken with metadata.update).
    copy["metadata"]["finalizers"] = ["other"]
    copy["metadata"].update(name="renamed")
    copy["status"] = {}
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


def test_equal_sub_values_of_two_bodies_are_one_object() -> None:
    a, b = compact_object(_decoded("a")), compact_object(_decoded("b"))
    assert a["status"] is b["status"]
    assert a["status"]["conditions"][0] is b["status"]["conditions"][0]
    assert a["metadata"]["finalizers"] is b["metadata"]["finalizers"]
    # Each copy's metadata is its own, even when equal.
    assert compact_object(_decoded("a"))["metadata"] is not a["metadata"]


def test_values_python_finds_equal_but_json_does_not_are_kept_apart() -> None:
    one, true, real = (
        compact_object({"spec": {"n": value, "l": [value]}}) for value in (1, True, 1.0)
    )
    assert one["spec"] is not true["spec"]
    assert one["spec"] is not real["spec"]
    assert true["spec"] is not real["spec"]
    assert [json.dumps(x) for x in (one, true, real)] == [
        '{"spec": {"n": 1, "l": [1]}}',
        '{"spec": {"n": true, "l": [true]}}',
        '{"spec": {"n": 1.0, "l": [1.0]}}',
    ]
    assert compact_object({"spec": {"n": 1, "l": [1]}})["spec"] is one["spec"]
    # A nested container and a scalar never stand for each other.
    assert (
        compact_object({"spec": {"x": {}}})["spec"] != compact_object({"spec": {"x": []}})["spec"]
    )


def test_entries_nobody_refers_to_are_dropped_at_a_sweep() -> None:
    kept = [compact_object(_decoded(f"kept-{i}")) for i in range(3)]
    unique = [
        compact_object({"metadata": {"name": f"gone-{i}"}, "status": {"id": f"gone-{i}", "x": [i]}})
        for i in range(50)
    ]
    with_unique = canonical_entries()
    del unique
    gc.collect()
    bodies._sweep()
    # Each dropped body held two entries of its own (its status and its list).
    assert canonical_entries() <= with_unique - 100
    again = compact_object(_decoded("kept-0"))
    assert again["status"] is kept[0]["status"]


def test_the_table_sweeps_itself_when_it_doubled() -> None:
    bodies._sweep()
    for i in range(3 * bodies._MIN_SWEEP):
        compact_object({"status": {"id": f"transient-{i}"}})
    # Without sweeps it would hold every one of them.
    assert canonical_entries() < 2 * bodies._MIN_SWEEP + 10


def _ready_link(name: str) -> str:
    condition = {"type": "Ready", "status": "True", "reason": "Ready", "observedGeneration": 1}
    return json.dumps(
        {
            "kind": "MulticloudLink",
            "metadata": {
                "name": name,
                "uid": f"uid-{name}",
                "resourceVersion": "7",
                "finalizers": ["interconnect.io/finalizer"],
                "managedFields": [
                    {"manager": "op", "fieldsV1": {"f:status": {".": {}, "f:phase": {}}}}
                ],
            },
            "spec": {"poolRef": {"name": "p"}, "bandwidthMbps": 1000, "ipv6": False},
            "status": {"conditions": [condition], "ratio": 0.5, "providers": [{"name": name}]},
        }
    )


def test_decode_is_compact_object_in_one_pass() -> None:
    raw = _ready_link("a")
    decoded = decode(raw)
    assert decoded == compact_object(json.loads(raw))
    assert "managedFields" not in decoded["metadata"]
    other = decode(_ready_link("b"))
    # Equal parts shared, across decodes and with compact_object's copies.
    assert decoded["spec"] is other["spec"]
    assert decoded["status"]["conditions"] is other["status"]["conditions"]
    assert decoded["metadata"]["finalizers"] is other["metadata"]["finalizers"]
    assert compact_object(json.loads(raw))["spec"] is decoded["spec"]
    assert decoded["status"] is not other["status"]
    # The object and its metadata are private, even when equal.
    again = decode(raw)
    assert again is not decoded
    assert again["metadata"] is not decoded["metadata"]
    assert again["status"] is decoded["status"]


def test_decode_keeps_pages_and_events_private() -> None:
    link = json.loads(_ready_link("a"))
    page = decode(json.dumps({"metadata": {"resourceVersion": "3"}, "items": [link]}))
    event = decode(json.dumps({"type": "ADDED", "object": link}))
    assert page["items"][0]["spec"] is event["object"]["spec"]
    assert decode('{"metadata": {"resourceVersion": "3"}, "items": []}') is not decode(
        '{"metadata": {"resourceVersion": "3"}, "items": []}'
    )


def test_decode_keeps_json_types_apart_in_parts_taken_by_their_text() -> None:
    # A part equal by Python's == but not as JSON (1, 1.0, true) is never taken
    # for another: each decodes to its own JSON text.
    texts = [
        json.dumps({"metadata": {"name": "x"}, "spec": {"n": v, "l": [v]}})
        for v in (1, True, 1.0, 1, True)
    ]
    decoded = [decode(t) for t in texts]
    assert [json.dumps(d) for d in decoded] == texts
    assert decoded[3]["spec"] is decoded[0]["spec"]
    assert decoded[4]["spec"] is decoded[1]["spec"]
    assert decoded[2]["spec"] is not decoded[0]["spec"]
    assert decoded[1]["spec"] is not decoded[0]["spec"]


def test_an_objects_own_values_are_kept_private_not_looked_up() -> None:
    def link(name: str) -> str:
        provider = {"name": "gcp", "connectionId": f"uuid-{name}"}
        return json.dumps(
            {
                "metadata": {
                    "name": name,
                    "uid": f"uid-{name}",
                    "annotations": {UUID_ANNOTATION: f"uuid-{name}"},
                },
                "spec": {"poolRef": {"name": "p"}},
                "status": {
                    "sharedConnectionUuid": f"uuid-{name}",
                    "providers": [provider],
                    "conditions": [{"type": "Ready", "status": "True"}],
                },
            }
        )

    bodies._sweep()
    before = canonical_entries()
    decoded = [decode(link(f"l{i}")) for i in range(20)]
    # Only the shared parts are entries: spec, its poolRef, conditions and their
    # condition; no status, providers list, provider or annotations of a link.
    assert canonical_entries() - before <= 4
    assert decoded[0]["status"]["conditions"] is decoded[19]["status"]["conditions"]
    assert decoded[0]["spec"] is decoded[19]["spec"]
    assert decoded[0] == json.loads(link("l0"))
    assert decoded[0] == compact_object(json.loads(link("l0")))


def test_decode_drops_managed_fields_of_pages_and_events_only_in_metadata() -> None:
    link = json.loads(_ready_link("a"))
    event = decode(json.dumps({"type": "MODIFIED", "object": link}))
    assert "managedFields" not in event["object"]["metadata"]
    # Field sets elsewhere (never seen in practice) are left as they are.
    odd = decode(json.dumps({"metadata": {"name": "x"}, "spec": {"f:x": {"a": 1}}}))
    assert odd["spec"] == {"f:x": {"a": 1}}


def test_parts_taken_by_text_stay_bounded() -> None:
    bodies._sweep()
    big = json.dumps({"metadata": {"name": "x"}, "spec": {"blob": "x" * (bodies._PART_MAX + 1)}})
    first, second = decode(big), decode(big)
    # Too large to be kept by its text (still shared through the table).
    assert not bodies._PARTS
    assert first["spec"] is second["spec"]
    for i in range(3000):  # ~1.5 MiB of texts: emptied once on the way
        decode(json.dumps({"metadata": {"name": "x"}, "spec": {"id": f"{i:0500d}"}}))
    assert bodies._PARTS_SIZE <= bodies._PARTS_MAX
    assert 0 < len(bodies._PARTS) < 3000
    assert sum(len(text) for _, text in bodies._PARTS) == bodies._PARTS_SIZE
    bodies.sweep()
    assert not bodies._PARTS
