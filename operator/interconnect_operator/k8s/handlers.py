"""kopf handlers: login, startup/cleanup and the liveness probe; nothing per object.

Links and pools are listed and watched by the operator itself (``watch.py``),
not by kopf: kopf's per-object machinery (a worker task per object, cause
detection, its watch streams) cost 12.9 % of the burst profile and 28.5 % of
the restart profile (bench), for handlers that only handed a compact copy to
the controller. kopf keeps the process: login, the activities, the probes,
signal handling. It registers no resource handler, so it watches nothing and
writes nothing; the only Kubernetes writes are the operator's own (status,
its finalizer, Events). The controller owns the rest (``controller.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from interconnect_operator.k8s.collector import CollectorPolicy
from interconnect_operator.k8s.controller import Controller
from interconnect_operator.k8s.heap import HeapTrimmer
from interconnect_operator.k8s.kube import LINKS, POOLS, KubeClient, load_configuration
from interconnect_operator.k8s.leader import LeaseElector
from interconnect_operator.k8s.resources import GROUP, VERSION
from interconnect_operator.k8s.settings import ANNOTATION_PREFIX, KOPF_FINALIZER, OperatorOptions
from interconnect_operator.k8s.watch import ListWatch
from interconnect_operator.k8s.workqueue import set_metrics_provider
from interconnect_operator.metrics import MetricsServer, OperatorMetrics, serve_metrics

logger = logging.getLogger(__name__)

_options = OperatorOptions()


def configure(options: OperatorOptions) -> None:
    """Set the process options before ``kopf.run`` (called by ``main.run``)."""
    global _options
    _options = options


@kopf.on.login()
def login(**_: Any) -> kopf.ConnectionInfo:
    """kopf logs in exactly as the operator's own client does (`kube.load_configuration`).

    kopf's fallback logins without the ``kubernetes`` package look for a
    kubeconfig only when kopf is imported, before ``--kubeconfig`` is known;
    this handler reads it when kopf asks (at start and after a 401).
    """
    return load_configuration(_options.kubeconfig)


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """All kopf settings in one place, then the controller and the metrics endpoint."""
    # kopf removes "its" finalizer from objects being deleted when it has no
    # deletion handler; the controller owns FINALIZER, so kopf gets another name
    # (never added: there are no kopf deletion handlers or daemons).
    settings.persistence.finalizer = KOPF_FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    # kopf watches nothing (no resource handlers); nor does it watch CRDs for new ones.
    settings.scanning.disabled = True
    settings.networking.request_timeout = 60
    # kopf would post its own Events through core/v1; the operator's go through
    # events.k8s.io/v1 (kube.py), the only Events API its RBAC grants.
    settings.posting.enabled = False
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    metrics = OperatorMetrics(
        per_link=_options.per_link_metrics, shared_uuid_label=_options.metrics_shared_uuid
    )
    set_metrics_provider(metrics.workqueue)
    kube = KubeClient(load_configuration(_options.kubeconfig))
    controller = Controller(_options, kube, metrics)
    memo["controller"] = controller
    memo["metrics_server"] = (
        serve_metrics(metrics, _options.metrics_port, _options.metrics_host)
        if _options.metrics_port
        else None
    )
    if _options.leader_election:
        # Watch as a standby until this replica holds the Lease (k8s/leader.py).
        controller.standby()
        elector = LeaseElector(
            kube, _options.operator_namespace, _options.leader_election_name, _identity()
        )
        memo["elector"] = elector
        memo["election"] = asyncio.create_task(
            elector.run(_lead(controller), _stop_acting), name="leader-election"
        )
    else:
        # Act at once; the watches' first LISTs run while ``start`` lists the
        # shared-UUID records (they waited for that LIST before). Pools are
        # active from the start, so a pool's loop builds its clients as soon as
        # the pool is listed, before the links' list ends and the restart's bulk
        # confirmation looks at the pool (a loop not yet built confirms nothing).
        # Not awaited here: kopf serves the liveness endpoint only once every
        # startup handler returned, and at 10,000 links that LIST (beside the
        # watches' first lists and the pools' first reads on the same loop) kept
        # the process unanswered for ~14 s. ``start`` itself still lists the
        # records before the link queue starts, so no link is acted on before
        # the records it is judged by are in; a start that fails ends the process.
        acting = asyncio.create_task(controller.start(), name="start")
        acting.add_done_callback(_start_ended)
        memo["acting"] = acting
    memo["watches"] = asyncio.create_task(_watch(kube, controller), name="watches")
    memo["heap_trimmer"] = asyncio.create_task(HeapTrimmer().run(), name="heap-trimmer")
    collector = CollectorPolicy(asyncio.get_running_loop())
    collector.start()
    memo["collector"] = collector


def _start_ended(task: asyncio.Task[None]) -> None:
    """A start that raised leaves a process that would never act: it exits, and its
    restart starts again (kopf no longer sees that error: ``startup`` returned)."""
    if task.cancelled() or task.exception() is None:
        return
    logger.error("the operator could not start: %r", task.exception())
    _exit(70)


def _exit(code: int) -> None:
    """End the process now, logs flushed (no graceful shutdown that could still write)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(code)


def watch_paths(namespaces: tuple[str, ...]) -> tuple[str, list[str]]:
    """The pools' path and the links' (one per watched namespace, else cluster-wide).

    Pools are watched whole, as before: ``--pool-selector`` is applied by the
    pool loops (``pools.owns``), which must see a pool leave the shard to leave
    its links alone (a server-side selector would make that look like a deletion).
    """
    base = f"/apis/{GROUP}/{VERSION}"
    links = [f"{base}/namespaces/{ns}/{LINKS}" for ns in namespaces] or [f"{base}/{LINKS}"]
    return f"{base}/{POOLS}", links


async def _watch(kube: KubeClient, controller: Controller) -> None:
    """Pools and links, listed then watched; the links' first lists end the restart."""
    pools_path, links_paths = watch_paths(_options.namespaces)
    pools = ListWatch(kube, pools_path, controller.on_pool_event)
    links = [ListWatch(kube, path, controller.on_link_event) for path in links_paths]
    tasks = [asyncio.create_task(w.run(), name=f"watch-{w.path}") for w in (pools, *links)]
    try:
        await pools.synced.wait()
        for watch in links:
            await watch.synced.wait()
        controller.links_listed()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _identity() -> str:
    """This replica's name in the Lease: the pod (or host) and the process."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}-{os.getpid()}"


def _lead(controller: Controller) -> Callable[[], Awaitable[None]]:
    async def start() -> None:
        await controller.start()

    return start


def _stop_acting() -> None:
    """The Lease is lost: another replica may act any moment, so this one stops now.

    The process exits at once (no graceful shutdown that could still write);
    its restart joins as a standby.
    """
    _exit(70)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    acting: asyncio.Task[None] | None = memo.get("acting")
    if acting is not None and not acting.done():
        acting.cancel()
        await asyncio.gather(acting, return_exceptions=True)
    watches: asyncio.Task[None] | None = memo.get("watches")
    if watches is not None:
        watches.cancel()
        await asyncio.gather(watches, return_exceptions=True)
    trimmer: asyncio.Task[None] | None = memo.get("heap_trimmer")
    if trimmer is not None:
        trimmer.cancel()
    collector: CollectorPolicy | None = memo.get("collector")
    if collector is not None:
        collector.stop()
    election: asyncio.Task[None] | None = memo.get("election")
    if election is not None:
        election.cancel()
        await asyncio.gather(election, return_exceptions=True)
    controller: Controller | None = memo.get("controller")
    if controller is not None:
        await controller.stop()
    elector: LeaseElector | None = memo.get("elector")
    if elector is not None:
        # After the controller stopped: the next leader never overlaps this one.
        await elector.release()
    server: MetricsServer | None = memo.get("metrics_server")
    if server is not None:
        server.shutdown()


@kopf.on.probe(id="links")
def probe_links(memo: kopf.Memo, **_: Any) -> int:
    """Liveness detail: how many links the controller tracks."""
    controller: Controller | None = memo.get("controller")
    return len(controller.links) if controller is not None else 0
