"""Write the generated reference sections of README.md (CRD fields, metrics, mutants).

The README holds three blocks between markers, each rewritten from its source
so that the documentation cannot drift from what the operator ships:

- ``crd-reference``: every field of the CapacityPool and MulticloudLink
  schemas, read from ``crds/*.yaml`` (themselves generated from the pydantic
  models by ``interconnect_operator.k8s.crdgen``), with types, defaults,
  bounds, CEL rules and printer columns;
- ``metrics``: every metric family the operator exports, with type, labels
  and help text, read from a live ``OperatorMetrics`` registry fed one sample
  of each kind through its public methods;
- ``conformance-mutants``: the conformance kit's mutant providers and the
  checks each must fail, from ``tests/integration/conformance/mutants.py``
  (whose integration test asserts the kit's real runs produce that table).

Usage::

    python hack/readme-reference.py           # rewrite README.md
    python hack/readme-reference.py --check   # exit 1 if README.md is stale

tests/unit/test_readme.py runs ``--check`` (through :func:`stale_sections`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
CRDS = REPO / "crds"


def _marker(name: str) -> tuple[str, str]:
    return (
        f"<!-- BEGIN GENERATED: {name} (hack/readme-reference.py; do not edit) -->",
        f"<!-- END GENERATED: {name} -->",
    )


# --------------------------------------------------------------------------
# CRD reference


def _cell(text: str) -> str:
    """One Markdown table cell: a single line, pipes escaped."""
    return re.sub(r"\s+", " ", text).replace("|", "\\|").strip()


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = str(schema.get("type", "object"))
    if schema.get("x-kubernetes-int-or-string"):
        return "int or string"
    if kind == "array":
        return f"[]{_type_of(schema.get('items') or {})}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map[string]{_type_of(schema['additionalProperties'] or {})}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return kind


def _constraints(schema: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if "enum" in schema:
        parts.append("one of " + ", ".join(f"`{v}`" for v in schema["enum"]))
    for key, label in (("minimum", "≥"), ("maximum", "≤")):
        if key in schema:
            parts.append(f"{label} {schema[key]}")
    if "minLength" in schema or "maxLength" in schema:
        parts.append(f"length {schema.get('minLength', 0)}-{schema.get('maxLength', '∞')}")
    if "maxItems" in schema:
        parts.append(f"≤ {schema['maxItems']} items")
    if "pattern" in schema:
        parts.append(f"pattern `{schema['pattern']}`")
    if "default" in schema:
        shown = yaml.safe_dump(schema["default"], default_flow_style=True)
        # A scalar document ends with "..."; only the value matters here.
        parts.append(f"default `{shown.removesuffix(chr(10)).removesuffix('...').strip()}`")
    if schema.get("x-kubernetes-list-type") == "map":
        keys = ", ".join(schema.get("x-kubernetes-list-map-keys") or [])
        parts.append(f"map list keyed by {keys}")
    for rule in schema.get("x-kubernetes-validations") or []:
        parts.append(f"rule: {rule.get('message') or rule.get('rule')}")
    return "; ".join(parts)


def _fields(
    schema: Mapping[str, Any], prefix: str, required: bool
) -> Iterator[tuple[str, str, bool, str, str]]:
    """(path, type, required, constraints, description) for ``schema`` and below."""
    yield (
        prefix,
        _type_of(schema),
        required,
        _constraints(schema),
        str(schema.get("description", "")),
    )
    children = schema
    suffix = ""
    if schema.get("type") == "array":
        children = schema.get("items") or {}
        suffix = "[]"
        if children.get("x-kubernetes-validations"):
            rules = _constraints({"x-kubernetes-validations": children["x-kubernetes-validations"]})
            yield f"{prefix}[]", _type_of(children), False, rules, "Each item."
    needed = set(children.get("required") or [])
    for name, sub in (children.get("properties") or {}).items():
        yield from _fields(sub, f"{prefix}{suffix}.{name}", name in needed)


def crd_reference() -> str:
    out: list[str] = []
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        names = spec["names"]
        for version in spec["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            out.append(f"### {names['kind']} (`{spec['group']}/{version['name']}`)\n")
            out.append(
                f"{_cell(str(schema.get('description', '')))}\n\n"
                f"Scope: {spec['scope']}; short names: "
                f"{', '.join('`' + s + '`' for s in names.get('shortNames', []))}; "
                f"categories: {', '.join('`' + c + '`' for c in names.get('categories', []))}; "
                f"file: `crds/{path.name}`.\n"
            )
            columns = version.get("additionalPrinterColumns") or []
            if columns:
                shown = ", ".join(f"{c['name']} (`{c['jsonPath']}`)" for c in columns)
                out.append(f"`kubectl get` columns: {shown}.\n")
            rules = schema.get("x-kubernetes-validations") or []
            for top in ("spec", "status"):
                sub = (schema.get("properties") or {}).get(top)
                if sub is None:
                    continue
                out.append(f"<details><summary><code>{top}</code> fields</summary>\n")
                out.append("| Field | Type | Required | Constraints | Description |")
                out.append("|---|---|---|---|---|")
                rows = list(_fields(sub, top, top in (schema.get("required") or [])))
                for field, kind, req, cons, desc in rows[1:]:
                    out.append(
                        f"| `{field}` | {_cell(kind)} | {'yes' if req else ''} | "
                        f"{_cell(cons)} | {_cell(desc)} |"
                    )
                top_rules = _constraints(
                    {"x-kubernetes-validations": sub.get("x-kubernetes-validations")}
                )
                if top_rules:
                    out.append(f"\nWhole `{top}`: {_cell(top_rules)}")
                out.append("\n</details>\n")
            if rules:
                out.append(
                    f"Object rules: {_cell(_constraints({'x-kubernetes-validations': rules}))}\n"
                )
    return "\n".join(out).rstrip() + "\n"


# --------------------------------------------------------------------------
# Metrics


def metrics_reference() -> str:
    """One row per metric family, from a registry holding one sample of each."""
    from interconnect_operator import metrics as m

    registry = m.OperatorMetrics(per_link=True, shared_uuid_label=True)
    channel = m.ChannelHealth(
        "ch1",
        maintenance_active=True,
        next_maintenance_start=1.0,
        macsec_key_age_seconds=1.0,
        maintenance_overlap=True,
    )
    registry.set_pool(
        m.PoolHealth(
            "pool",
            providers_reachable={"aws": True},
            interconnects=[
                m.InterconnectHealth(
                    "ix1", 10, 1, 9, {"ADMIN_STATE_ENABLED": 4}, [channel], {"aws": 0}
                )
            ],
        )
    )
    registry.set_link(
        m.LinkHealth(
            namespace="ns",
            name="link",
            pool="pool",
            environment="env",
            interconnect="ix1",
            shared_uuid="uuid",
            phase="Ready",
            ready=True,
            degraded=False,
            bandwidth_mbps=1000,
            verified={"aws": True},
            features={("aws", "FINAL"): 4},
            channels_up={"ch1": True},
            time_to_ready_seconds=1.0,
        )
    )
    registry.observe_time_to_ready("pool", 1.0)
    registry.record_provider_request("aws", "GetConnection", "200", 0.01)
    registry.observe_reconcile("link", 0.01)
    registry.record_reconcile_error("link", "ProviderError")
    queue = registry.workqueue("links")
    queue.added()
    queue.waited(0.01)
    queue.worked(0.01)
    queue.retried()

    families: dict[str, tuple[str, str, set[str]]] = {}
    for family in registry.registry.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        if name in m.RUNTIME_METRIC_NAMES:
            continue  # process_*, python_gc_*, python_info: documented by prometheus-client
        labels = {k for s in family.samples for k in s.labels if k not in ("le",)}
        families[name] = (family.type, family.documentation, labels)
    missing = sorted(set(m.METRIC_NAMES) - set(families))
    if missing:
        raise SystemExit(f"metrics without a sample in hack/readme-reference.py: {missing}")
    # Series labelled by link (namespace + name) exist only with per-link metrics on.
    per_link = {n for n, (_, _, labels) in families.items() if {"namespace", "name"} <= labels}
    out = [
        "| Metric | Type | Labels | Help |",
        "|---|---|---|---|",
    ]
    for name in sorted(families):
        kind, doc, labels = families[name]
        note = " (per-link: `--per-link-metrics`)" if name in per_link else ""
        if "shared_uuid" in labels:
            note += "; `shared_uuid` only with `--metrics-shared-uuid`"
        shown = ", ".join(f"`{label}`" for label in sorted(labels)) or "-"
        out.append(f"| `{name}` | {kind} | {shown} | {_cell(doc)}{note} |")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# README


# --------------------------------------------------------------------------
# Conformance kit: the mutant providers and the checks that catch them


def conformance_mutants() -> str:
    """The table of tests/integration/conformance/mutants.py (asserted by its test)."""
    import importlib.util

    path = REPO / "tests" / "integration" / "conformance" / "mutants.py"
    spec = importlib.util.spec_from_file_location("conformance_mutants", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through it
    spec.loader.exec_module(module)
    table: str = module.readme_table()
    return table


GENERATORS = {
    "crd-reference": crd_reference,
    "metrics": metrics_reference,
    "conformance-mutants": conformance_mutants,
}


def render(text: str) -> str:
    """``text`` with every generated block rewritten."""
    for name, generate in GENERATORS.items():
        begin, end = _marker(name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the markers of {name!r}:\n{begin}\n{end}")
        block = f"{begin}\n\n{generate()}\n{end}"
        # A function as replacement: the block is literal text, not a template.
        text = pattern.sub(lambda _, block=block: block, text)  # type: ignore[misc]
    return text


def stale_sections(readme: Path = README) -> list[str]:
    """Names of the generated blocks whose text differs from a fresh rendering."""
    current = readme.read_text()
    fresh = render(current)
    stale = []
    for name in GENERATORS:
        begin, end = _marker(name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
        old, new = pattern.search(current), pattern.search(fresh)
        if old is None or new is None or old.group(0) != new.group(0):
            stale.append(name)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_sections()
        if stale:
            sys.stderr.write(
                f"README.md is stale ({', '.join(stale)}): run python hack/readme-reference.py\n"
            )
            return 1
        return 0
    README.write_text(render(README.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
