"""The operator's RBAC rules: the one place they are written down.

    python -m interconnect_operator.k8s.rbac --namespace NS --out FILE \
        [--service-account SA] [--link-secret-namespace NS ...]

writes a ServiceAccount, ClusterRole + ClusterRoleBinding, Role + RoleBinding
(and, on request, RoleBindings that let the operator read link Secrets). The
Helm chart is generated from the same rule lists, so the chart, the e2e rig
and this module cannot disagree.

Why each rule exists:

* `CLUSTER_RULES`: both kinds are watched in every namespace (kopf needs
  list/watch cluster-wide, and patch on the objects for the finalizer; every
  write is a merge patch, so no update); status is written through the status
  subresource (patch); Events are posted through events.k8s.io/v1 only
  (create, and patch for a repeat's series; kopf's own posting, core/v1, is
  off); namespaces are read for the pool's namespaceSelector policy;
  CRDs are listed because kopf scans them at startup.
* `NAMESPACE_RULES` (operator's namespace only): provider credentials are
  Secrets there, read one by name (`get`) and watched one by name (`watch`
  with a `metadata.name` field selector, so a rotation takes effect without a
  spec change; no `list`: the operator never enumerates the namespace's
  Secrets; the ClusterIssuer pattern: a namespace that may create links
  cannot read them, and the operator cannot read everybody's Secrets);
  the Lease of leader election (`k8s/leader.py`: one replica acts); ConfigMaps
  that record which link (by uid) owns each shared UUID (only the operator
  writes there, so a tenant cannot claim another team's connection).
* `LINK_VIEW_RULES` / `LINK_EDIT_RULES`: not the operator's; ClusterRoles
  labelled for aggregation into the built-in `view` / `edit` and `admin`
  roles, so namespace users manage MulticloudLinks (never pools) with the
  roles they already have.
* `LINK_SECRET_RULES`: a link's activation key and BGP MD5 password live in
  the link's own namespace. Reading them needs `get` there, and only `get`
  (no list/watch: the operator asks for one named Secret; a link waiting for
  a Secret is woken by a get-only recheck, `k8s/secret_recheck.py`). The ClusterRole is
  bound per namespace by RoleBindings, or cluster-wide with `"*"`, as the
  platform team chooses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from interconnect_operator.k8s import resources as r

DEFAULT_NAME = "interconnect-operator"
DEFAULT_SERVICE_ACCOUNT = "interconnect-operator"
#: Value of `link_secret_namespaces` that binds link-secret reading cluster-wide.
ALL_NAMESPACES = "*"

Rule = dict[str, list[str]]

_READ = ["get", "list", "watch"]

CLUSTER_RULES: list[Rule] = [
    {
        "apiGroups": [r.GROUP],
        "resources": [r.POOL_PLURAL, r.LINK_PLURAL],
        "verbs": [*_READ, "patch"],
    },
    {
        "apiGroups": [r.GROUP],
        "resources": [f"{r.POOL_PLURAL}/status", f"{r.LINK_PLURAL}/status"],
        "verbs": ["get", "patch"],
    },
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": list(_READ)},
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": list(_READ),
    },
]

NAMESPACE_RULES: list[Rule] = [
    # Pool credentials (get, watch) and the inputsDigest signing key (k8s/digest_key.py),
    # created once on first start: this namespace only.
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "create"]},
    # Shared-UUID ownership records (k8s/ownership.py): one ConfigMap per UUID,
    # listed once at start (a restart reads them all in one list, not one each).
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "create", "delete"]},
    # Leader election (k8s/leader.py): read, create once, replace to renew.
    {
        "apiGroups": ["coordination.k8s.io"],
        "resources": ["leases"],
        "verbs": ["get", "create", "update"],
    },
]

#: Aggregated into the built-in ``view`` role (and so ``edit`` and ``admin``):
#: users who may read a namespace may read its MulticloudLinks. Not pools.
LINK_VIEW_RULES: list[Rule] = [
    {"apiGroups": [r.GROUP], "resources": [r.LINK_PLURAL], "verbs": list(_READ)},
]
#: Aggregated into the built-in ``edit`` and ``admin`` roles: users who may
#: edit a namespace may manage its MulticloudLinks. Not their status, not pools.
LINK_EDIT_RULES: list[Rule] = [
    {
        "apiGroups": [r.GROUP],
        "resources": [r.LINK_PLURAL],
        "verbs": [*_READ, "create", "update", "patch", "delete", "deletecollection"],
    },
]
_AGGREGATE = "rbac.authorization.k8s.io/aggregate-to-"
_VIEWERS = ("view", "edit", "admin")
_EDITORS = ("edit", "admin")

LINK_SECRET_RULES: list[Rule] = [
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
]


def _labels(name: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": "operator",
        "app.kubernetes.io/part-of": "interconnect-operator",
    }


def _subject(namespace: str, service_account: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}


def _role_ref(kind: str, name: str) -> dict[str, str]:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}


def _copy_rules(rules: Sequence[Rule]) -> list[Rule]:
    # Callers may mutate what they get (the chart generator adds labels etc.);
    # the module-level lists must stay as written.
    return [{key: list(values) for key, values in rule.items()} for rule in rules]


# Long on purpose: the rule table, one rule per resource the operator touches.
def render_rbac(
    namespace: str,
    service_account: str = DEFAULT_SERVICE_ACCOUNT,
    *,
    name: str = DEFAULT_NAME,
    link_secret_namespaces: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """All RBAC manifests for an operator running as `service_account` in `namespace`.

    `link_secret_namespaces` lists the namespaces whose MulticloudLinks may
    reference Secrets (activation key, BGP MD5); `["*"]` grants `get` on
    Secrets cluster-wide instead. Empty: links can only use
    destinationAccountId and no BGP MD5.
    """
    labels = _labels(name)
    subject = _subject(namespace, service_account)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace, "labels": labels},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name, "labels": labels},
            "rules": _copy_rules(CLUSTER_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": labels},
            "roleRef": _role_ref("ClusterRole", name),
            "subjects": [subject],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "rules": _copy_rules(NAMESPACE_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "roleRef": _role_ref("Role", name),
            "subjects": [subject],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": f"{name}-links-view",
                "labels": {**labels, **{_AGGREGATE + role: "true" for role in _VIEWERS}},
            },
            "rules": _copy_rules(LINK_VIEW_RULES),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {
                "name": f"{name}-links-edit",
                "labels": {**labels, **{_AGGREGATE + role: "true" for role in _EDITORS}},
            },
            "rules": _copy_rules(LINK_EDIT_RULES),
        },
    ]
    if link_secret_namespaces:
        secret_role = f"{name}-link-secrets"
        docs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": secret_role, "labels": labels},
                "rules": _copy_rules(LINK_SECRET_RULES),
            }
        )
        if ALL_NAMESPACES in link_secret_namespaces:
            docs.append(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": secret_role, "labels": labels},
                    "roleRef": _role_ref("ClusterRole", secret_role),
                    "subjects": [subject],
                }
            )
        else:
            for link_namespace in dict.fromkeys(link_secret_namespaces):  # dedupe, keep order
                docs.append(
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "RoleBinding",
                        "metadata": {
                            "name": secret_role,
                            "namespace": link_namespace,
                            "labels": labels,
                        },
                        "roleRef": _role_ref("ClusterRole", secret_role),
                        "subjects": [subject],
                    }
                )
    return docs


def render_yaml(docs: Sequence[dict[str, Any]]) -> str:
    """Multi-document YAML with a do-not-edit header."""
    header = "# generated by `python -m interconnect_operator.k8s.rbac`; do not edit\n"
    return header + yaml.safe_dump_all(list(docs), sort_keys=False, width=100)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m interconnect_operator.k8s.rbac",
        description="Write the operator's RBAC manifests.",
    )
    parser.add_argument("--namespace", required=True, help="namespace the operator runs in")
    parser.add_argument("--service-account", default=DEFAULT_SERVICE_ACCOUNT)
    parser.add_argument("--name", default=DEFAULT_NAME, help="name of the roles and bindings")
    parser.add_argument(
        "--link-secret-namespace",
        action="append",
        default=[],
        metavar="NS",
        help="namespace whose links may reference Secrets (repeatable; '*' for all)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    text = render_yaml(
        render_rbac(
            args.namespace,
            args.service_account,
            name=args.name,
            link_secret_namespaces=args.link_secret_namespace,
        )
    )
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
