"""The operator's list+watch (k8s.watch.ListWatch) against the real kube-apiserver.

MulticloudLinks are listed in pages with each next page asked for from the
token read at a page's end: the API server's own layout of a custom
resource's list is the referee of that reading.

ConfigMaps stand in for links and pools (the watcher is the same for any
path): a paged first list, a watch that the API server ends at its
``timeoutSeconds`` several times and that resumes without a list, and a
relist after the watch was down (as after a 410), which delivers only the
differences, the object deleted meanwhile as DELETED, then watches on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kopf
import pytest

from interconnect_operator.k8s.kube import KubeClient
from interconnect_operator.k8s.watch import ListWatch
from tests.support.stack import Kube, link_manifest

NAMESPACE = "watch-e2e"


def _configmap(name: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"v": value},
    }


async def _until(condition: Callable[[], bool], what: Callable[[], object]) -> None:
    for _ in range(600):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not met within 60 s: {what()}")


async def test_the_watch_survives_server_timeouts_and_a_relist_delivers_the_differences(
    kube: Kube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube.run("create", "namespace", NAMESPACE, check=False)
    kube.apply([_configmap(f"cm-{i}", "1") for i in range(5)])
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    connection = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    assert connection is not None
    client = KubeClient(connection)
    events: list[tuple[str, str]] = []

    def deliver(kind: str, body: dict[str, Any]) -> None:
        name = body["metadata"]["name"]
        if name.startswith("cm-"):  # not the namespace's kube-root-ca.crt
            events.append((kind, name))

    def seen() -> object:
        return watcher.counts, watcher.resource_version, events

    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps"
    watcher = ListWatch(client, path, deliver, page_size=2, watch_seconds=3.0)
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.synced.wait(), 60)
        assert sorted(events) == [("ADDED", f"cm-{i}") for i in range(5)]
        assert watcher.counts.pages >= 3
        # A built-in list is written metadata first: each next page is asked for
        # once the page is decoded.
        assert watcher.counts.guessed_wrong == watcher.counts.pages - 1
        # The server ends each watch after 1-3 s: it resumes from the last version.
        await _until(lambda: watcher.counts.watches >= 4, seen)
        kube.apply([_configmap("cm-late", "1")])
        await _until(lambda: ("ADDED", "cm-late") in events, seen)
        assert watcher.counts.lists == 1
        assert watcher.counts.relists == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # Disconnected: one deleted, one changed, one created, and the version to resume
    # from is gone (what a 410 leaves: the watcher drops it and lists again). A real
    # 410 cannot be provoked here: this API server serves older versions from its
    # watch cache (nothing evicted yet) and continue pages from cache snapshots, even
    # after etcd compaction; the unit tests drive 410 on both paths.
    kube.run("delete", "configmap", "-n", NAMESPACE, "cm-0")
    kube.apply([_configmap("cm-1", "2"), _configmap("cm-new", "1")])
    events.clear()
    watcher.resource_version = None
    task = asyncio.create_task(watcher.run())
    try:
        await _until(lambda: watcher.counts.lists == 2, seen)
        await _until(lambda: len(events) >= 3, seen)
        assert sorted(events) == [("ADDED", "cm-new"), ("DELETED", "cm-0"), ("MODIFIED", "cm-1")]
        assert watcher.counts.deleted_on_relist == 1
        assert (NAMESPACE, "cm-0") not in watcher.known
        # And it watches again from the relist's version: a change arrives.
        kube.apply([_configmap("cm-2", "2")])
        await _until(lambda: ("MODIFIED", "cm-2") in events, seen)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        kube.run("delete", "namespace", NAMESPACE, "--wait=false", check=False)


async def test_a_custom_resource_list_ends_with_its_continue_token(
    kube: Kube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace = "watch-e2e-links"
    kube.run("create", "namespace", namespace, check=False)
    links = []
    for i in range(5):
        body = link_manifest(f"link-{i}", namespace, "no-such-pool")
        # A tenant's annotation that reads like a list's metadata.
        body["metadata"]["annotations"] = {"continue": "forged", "metadata": '{"continue":"x"}'}
        links.append(body)
    kube.apply(links)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    connection = kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())
    assert connection is not None
    client = KubeClient(connection)
    events: list[tuple[str, str]] = []
    path = f"/apis/interconnect.io/v1alpha1/namespaces/{namespace}/multicloudlinks"
    watcher = ListWatch(
        client,
        path,
        lambda kind, body: events.append((kind, body["metadata"]["name"])),
        page_size=2,
    )
    task = asyncio.create_task(watcher.run())
    try:
        await asyncio.wait_for(watcher.synced.wait(), 60)
        assert sorted(events) == [("ADDED", f"link-{i}") for i in range(5)]
        assert watcher.counts.pages == 3
        # Every next page was asked for from the token read at the page's end.
        assert watcher.counts.guessed_wrong == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        kube.run("delete", "namespace", namespace, "--wait=false", check=False)
