"""kopf handlers: thin adapters from watch events to the controller.

Links and pools are watched with ``kopf.on.event``: it stores no progress in
annotations and adds no finalizer of kopf's own, so the only Kubernetes
writes are the operator's own (status, its finalizer, Events). The
controller owns the rest (``controller.py`` and the parts it composes).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import kopf

from interconnect_operator.k8s.bodies import compact_object
from interconnect_operator.k8s.controller import Controller
from interconnect_operator.k8s.heap import HeapTrimmer
from interconnect_operator.k8s.kube import LINKS, POOLS, KubeClient, load_configuration
from interconnect_operator.k8s.leader import LeaseElector
from interconnect_operator.k8s.resources import GROUP, VERSION
from interconnect_operator.k8s.settings import ANNOTATION_PREFIX, KOPF_FINALIZER, OperatorOptions
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


class EssenceFreeDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff base for an operator without change handlers: no essence is built.

    For every watched event kopf builds an "essence" of the body (a deep copy
    without metadata and status) to diff it against the last handled one. Only
    change handlers (``on.create``/``on.update``/``on.resume``) and daemons
    read that diff, and the operator registers none (``on.event`` only), so
    the copy was pure cost: 17 % of a restart's samples at N=10,000 (bench).
    An empty essence also keeps kopf from ever storing a diff base.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        return kopf.BodyEssence()


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
    settings.persistence.diffbase_storage = EssenceFreeDiffBase(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    # No kopf worker limit: kopf keeps an object's worker for idle_timeout after
    # its last event, so a limit throttles bursts to limit/idle_timeout objects
    # per second. Handlers only enqueue; the controller's work queue bounds the
    # real concurrency (--workers). A short batch window keeps latency low.
    settings.batching.worker_limit = None
    settings.batching.batch_window = 0.01
    settings.batching.idle_timeout = 1.0
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    # kopf would post its own Events through core/v1; the operator's go through
    # events.k8s.io/v1 (kube.py), the only Events API its RBAC grants.
    settings.posting.enabled = False
    # kopf logs every handled watch event at INFO; the controller logs transitions.
    logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    metrics = OperatorMetrics(
        per_link=_options.per_link_metrics, shared_uuid_label=_options.metrics_shared_uuid
    )
    set_metrics_provider(metrics.workqueue)
    kube = KubeClient(load_configuration(_options.kubeconfig))
    controller = Controller(_options, kube, metrics)
    memo["controller"] = controller
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
        await controller.start()
    memo["heap_trimmer"] = asyncio.create_task(HeapTrimmer().run(), name="heap-trimmer")
    memo["metrics_server"] = (
        serve_metrics(metrics, _options.metrics_port, _options.metrics_host)
        if _options.metrics_port
        else None
    )


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
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(70)


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    trimmer: asyncio.Task[None] | None = memo.get("heap_trimmer")
    if trimmer is not None:
        trimmer.cancel()
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


@kopf.on.event(GROUP, VERSION, POOLS)
async def pool_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    controller: Controller = memo["controller"]
    await controller.on_pool_event(event.get("type"), _slim(event["object"]))


@kopf.on.event(GROUP, VERSION, LINKS)
async def link_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    controller: Controller = memo["controller"]
    controller.on_link_event(event.get("type"), _slim(event["object"]))


def _slim(obj: Any) -> dict[str, Any]:
    """A private, compact copy of a watched object without ``managedFields``.

    The controller keeps the latest body of every link; managedFields (large
    under server-side apply) are never read, so they are not kept, and the
    strings are interned (k8s/bodies.py).
    """
    return compact_object(obj)
