"""`kubectl explain` documents every field of both CRDs, as the API server publishes them.

Every property of the generated schemas (crds/*.yaml), spec and status, at
every depth, is asked of the real API server through kubectl: the field must
be there with its type and its description (whitespace aside: kubectl wraps).
A field without a description, or one the server prunes from its published
OpenAPI, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cluster import REPO_ROOT
from tests.support.stack import Kube, wait_for

pytestmark = pytest.mark.e2e

CRDS = sorted((REPO_ROOT / "crds").glob("*.yaml"))


def _type(schema: dict[str, Any]) -> str:
    """The type as kubectl explain prints it (<string>, <[]Object>, <map[string]string>...)."""
    kind = schema.get("type")
    if kind == "array":
        return "[]" + _type(schema.get("items") or {})
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and not schema.get("properties"):
            return "map[string]" + _type(extra)
        return "Object"
    if schema.get("x-kubernetes-int-or-string"):
        return "IntOrString"
    return str(kind)


def fields(schema: dict[str, Any], path: str = "") -> dict[str, dict[str, Any]]:
    """Every property under ``schema`` by its explain path (array items add no segment)."""
    found: dict[str, dict[str, Any]] = {}
    node = schema
    while node.get("type") == "array":
        node = node.get("items") or {}
    for name, child in (node.get("properties") or {}).items():
        child_path = f"{path}.{name}" if path else name
        found[child_path] = child
        found |= fields(child, child_path)
    return found


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.parametrize("crd_file", CRDS, ids=lambda p: p.stem)
def test_kubectl_explain_knows_every_field(kube: Kube, crd_file: Path, tmp_path: Path) -> None:
    crd = yaml.safe_load(crd_file.read_text())
    plural = crd["spec"]["names"]["plural"]
    (version,) = [v for v in crd["spec"]["versions"] if v.get("served")]
    api_version = f"{crd['spec']['group']}/{version['name']}"
    schema = version["schema"]["openAPIV3Schema"]
    every = {
        path: s for path, s in fields(schema).items() if path.split(".")[0] in ("spec", "status")
    }
    assert len(every) > 20, every.keys()

    cache = tmp_path / "kubectl-cache"  # one OpenAPI download per kind, not per field
    undocumented = [path for path, s in every.items() if not s.get("description")]
    assert not undocumented, f"fields without a description in {crd_file.name}: {undocumented}"
    # Discovery publishes a freshly established CRD a moment later.
    wait_for(
        lambda: (
            "KIND:"
            in kube.run(
                "explain",
                plural,
                f"--api-version={api_version}",
                f"--cache-dir={cache}",
                check=False,
            )
        ),
        30,
        f"kubectl explain {plural}",
        interval=1.0,
    )
    for path, field_schema in every.items():
        out = kube.run(
            "explain",
            f"{plural}.{path}",
            f"--api-version={api_version}",
            f"--cache-dir={cache}",
        )
        name = path.rsplit(".", 1)[-1]
        assert re.search(
            rf"^FIELD: +{re.escape(name)} <{re.escape(_type(field_schema))}>", out, re.M
        ), (
            path,
            out[:400],
        )
        assert _squash(field_schema["description"]) in _squash(out), (path, out[:600])
