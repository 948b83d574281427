"""Measuring instruments of the benchmark, each reading a real source.

- :class:`ReadyWatcher`: ``kubectl get -w`` on one namespace, noting the
  monotonic time the Ready condition of each link is first seen True
  (creationTimestamp has one-second resolution, far too coarse for
  apply-to-Ready latencies of tens of milliseconds);
- :class:`AuditReader`: the API server's audit log read from a byte offset,
  so that each scenario counts only its own requests, filtered to one user
  (``ControlPlane.count_audit_events`` counts every user from the start of
  the file, which would mix the harness's own kubectl writes in);
- :class:`ProcessSampler`: RSS of the operator process sampled by psutil;
- provider call counters from the simulators' ``/admin/stats``;
- :func:`summarise_profile`: py-spy's raw (collapsed) stacks grouped by
  where the CPU goes (kopf, HTTP clients, JSON, pydantic, our code).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
from tests.support.stack import Simulator

# Operations on one connection (a link's own calls). Everything else is
# pool-level: the bulk refresh reads of reconcile/reader.py (O(interconnects),
# not O(links)), MACsec and maintenance checks per channel, issues.
LINK_OPERATIONS = frozenset(
    {
        "ConfirmActivationKey",
        "CreateConnection",
        "GetConnection",
        "UpdateConnection",
        "DeleteConnection",
        "GenerateFeatureGuidance",
        "CreateFeature",
        "GetFeature",
        "DeleteFeature",
        "NotifyConnectionStatus",
    }
)
# Operations that change nothing at the provider (P3: confirming a key does not consume it).
READ_PREFIXES = ("Get", "List", "Generate", "Confirm")
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def is_mutating(operation: str) -> bool:
    """True for provider operations that change state (create, update, delete, notify...)."""
    return not operation.startswith(READ_PREFIXES)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p99/max/mean in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 1),
        "p99_ms": round(percentile(ms, 99), 1),
        "max_ms": round(max(ms), 1) if ms else 0.0,
        "mean_ms": round(statistics.fmean(ms), 1) if ms else 0.0,
    }


# --------------------------------------------------------------------------
# Ready times


class ReadyWatcher:
    """``kubectl get mcl -w`` in one namespace; first time each link is Ready."""

    TEMPLATE = (
        '{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}'
        '{" "}{.metadata.resourceVersion}{"\\n"}'
    )

    LIST_TEMPLATE = (
        '{range .items[*]}{.metadata.name}{" "}'
        '{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'
    )

    #: Seconds without a watch event after which ``wait`` lists the namespace
    #: once (a watch of 10,000 objects was seen to stop delivering events while
    #: kubectl kept running); a link first seen Ready by a list gets the list's
    #: time, an overestimate.
    STALL_SECONDS = 15.0

    #: How often a watch that ended (kubectl exits when the server ends the
    #: watch or a list is too slow) is started again before ``wait`` gives up.
    MAX_RESTARTS = 20

    def __init__(self, kubectl: str, kubeconfig: Path, namespace: str) -> None:
        self.ready: dict[str, float] = {}
        self.events = 0
        self.restarts = 0
        self._cond = threading.Condition()
        self._args = [
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "multicloudlinks.interconnect.io",
            "-n",
            namespace,
            "-w",
            "-o",
            f"jsonpath={self.TEMPLATE}",
        ]
        self._namespace = namespace
        self._list_args = [*self._args[:7], "-o", f"jsonpath={self.LIST_TEMPLATE}"]
        self.polls = 0
        self._last_event = time.monotonic()
        self._last_poll = 0.0
        self._start()

    def _start(self) -> None:
        # A new watch lists the namespace first: links that became Ready while no
        # watch ran are seen then (their time is the relist's, an overestimate).
        self._proc = subprocess.Popen(
            self._args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._thread = threading.Thread(
            target=self._read, name=f"watch-{self._namespace}", daemon=True
        )
        self._thread.start()

    def _read(self) -> None:
        proc = self._proc
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.monotonic()
            parts = line.split()
            if not parts:
                continue
            with self._cond:
                self.events += 1
                self._last_event = now
                if len(parts) >= 2 and parts[1] == "True" and parts[0] not in self.ready:
                    self.ready[parts[0]] = now
                    self._cond.notify_all()

    def wait(self, names: Iterable[str], timeout: float) -> bool:
        """Block until every name is Ready (True) or the timeout passes (False)."""
        wanted = set(names)
        deadline = time.monotonic() + timeout
        with self._cond:
            while not wanted.issubset(self.ready):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                if self._proc.poll() is not None:
                    if self.restarts >= self.MAX_RESTARTS:
                        return False
                    self.restarts += 1
                    self._start()
                now = time.monotonic()
                if min(now - self._last_event, now - self._last_poll) > self.STALL_SECONDS:
                    self._last_poll = now
                    self._cond.release()
                    try:
                        seen = self._list_ready()
                    finally:
                        self._cond.acquire()
                    self.polls += 1
                    stamp = time.monotonic()
                    for name in seen:
                        self.ready.setdefault(name, stamp)
                    continue
                self._cond.wait(min(left, 1.0))
        return True

    def _list_ready(self) -> list[str]:
        """Names of the namespace's links whose Ready condition is True (one list)."""
        try:
            out = subprocess.run(
                self._list_args, capture_output=True, text=True, timeout=120, check=False
            ).stdout
        except subprocess.TimeoutExpired:
            return []
        return [p[0] for p in (line.split() for line in out.splitlines()) if p[1:2] == ["True"]]

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._thread.join(timeout=5)


# --------------------------------------------------------------------------
# Kubernetes writes


@dataclass
class AuditWrites:
    """Write requests of one user found in an audit log slice."""

    total: int = 0
    by_resource: Counter[str] = field(default_factory=Counter)
    by_object: Counter[str] = field(default_factory=Counter)
    last_seen: float = 0.0

    def as_dict(self) -> dict[str, int]:
        return dict(sorted(self.by_resource.items()))


class AuditReader:
    """Reads an audit log from a remembered byte offset."""

    def __init__(self, path: Path, username: str) -> None:
        self.path = path
        self.username = username
        self.offset = 0

    def mark(self) -> None:
        """Start counting from the current end of the file."""
        self.offset = self.path.stat().st_size if self.path.exists() else 0

    def writes_since_mark(self, exclude_names: Iterable[str] = ()) -> AuditWrites:
        """Non-GET requests (create/update/patch/delete) of the user since :meth:`mark`."""
        excluded = set(exclude_names)
        found = AuditWrites()
        if not self.path.exists():
            return found
        with self.path.open("rb") as fh:
            fh.seek(self.offset)
            data = fh.read()
        # Only whole lines: the API server may be writing the last one.
        data = data[: data.rfind(b"\n") + 1]
        for raw in data.splitlines():
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("stage") != "ResponseComplete" or event.get("verb") not in WRITE_VERBS:
                continue
            if (event.get("user") or {}).get("username") != self.username:
                continue
            ref = event.get("objectRef") or {}
            name = str(ref.get("name", ""))
            if name in excluded:
                continue
            resource = str(ref.get("resource", "?"))
            if ref.get("subresource"):
                resource += "/" + str(ref["subresource"])
            found.total += 1
            found.by_resource[f"{event['verb']} {resource}"] += 1
            found.by_object[name] += 1
        return found


def _audit_time(stamp: str) -> float:
    """Seconds since the epoch of an audit timestamp (RFC 3339, microseconds)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def create_to_status_seconds(reader: AuditReader, name: str) -> float | None:
    """The API server's own clock from the create of link ``name`` (its request
    received, any user) to the end of the last status patch of it by the
    reader's user, in the slice since :meth:`AuditReader.mark`; None if either
    is missing. Neither the harness's client nor its watch is in it (a harness
    stall before its create reaches the server would be in the apply-to-Ready
    figure)."""
    if not reader.path.exists():
        return None
    with reader.path.open("rb") as fh:
        fh.seek(reader.offset)
        data = fh.read()
    data = data[: data.rfind(b"\n") + 1]
    created: float | None = None
    written: float | None = None
    needle = f'"name":"{name}"'.encode()
    for raw in data.splitlines():
        if needle not in raw:
            continue
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if event.get("stage") != "ResponseComplete":
            continue
        ref = event.get("objectRef") or {}
        if ref.get("name") != name or ref.get("resource") != "multicloudlinks":
            continue
        code = (event.get("responseStatus") or {}).get("code", 0)
        if event.get("verb") == "create" and not ref.get("subresource") and code < 300:
            created = _audit_time(event["requestReceivedTimestamp"])
        elif (
            event.get("verb") in ("patch", "update")
            and ref.get("subresource") == "status"
            and (event.get("user") or {}).get("username") == reader.username
            and code < 300
        ):
            written = _audit_time(event["stageTimestamp"])
    if created is None or written is None or written < created:
        return None
    return written - created


def wait_quiet(reader: AuditReader, quiet_seconds: float, cap_seconds: float) -> float:
    """Wait until the user wrote nothing for ``quiet_seconds`` (at most ``cap_seconds``)."""
    began = time.monotonic()
    last_total = -1
    last_change = began
    while time.monotonic() - began < cap_seconds:
        total = reader.writes_since_mark().total
        now = time.monotonic()
        if total != last_total:
            last_total, last_change = total, now
        elif now - last_change >= quiet_seconds:
            break
        time.sleep(0.5)
    return time.monotonic() - began


# --------------------------------------------------------------------------
# Provider calls


def reset_stats(sims: Sequence[Simulator]) -> None:
    for sim in sims:
        sim.admin("/admin/stats/reset", method="POST")


def read_stats(sims: Sequence[Simulator]) -> dict[str, dict[str, int]]:
    """Calls by provider and operation since the last reset."""
    out: dict[str, dict[str, int]] = {}
    for sim in sims:
        stats = sim.stats()
        ops = stats.get("byOperation") or {}
        out[sim.provider_id] = {op: int(v.get("total", 0)) for op, v in sorted(ops.items())}
    return out


def merge_ops(per_provider: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    merged: Counter[str] = Counter()
    for ops in per_provider.values():
        merged.update(ops)
    return dict(sorted(merged.items()))


def is_pool_level(operation: str) -> bool:
    return operation not in LINK_OPERATIONS


def split_calls(ops: Mapping[str, int]) -> tuple[int, int, int]:
    """(pool-level, link, mutating) call totals of a by-operation map."""
    refresh = sum(v for k, v in ops.items() if is_pool_level(k))
    link = sum(v for k, v in ops.items() if not is_pool_level(k))
    mutating = sum(v for k, v in ops.items() if is_mutating(k))
    return refresh, link, mutating


# --------------------------------------------------------------------------
# Process resources


class ProcessSampler:
    """Samples the RSS of one process (the pid can change across a restart)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self._pid = pid
        self._interval = interval
        self._lock = threading.Lock()
        self.samples: list[tuple[float, int, float]] = []  # (time, rss bytes, pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()

    def set_pid(self, pid: int) -> None:
        with self._lock:
            self._pid = pid

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                pid = self._pid
            try:
                rss = psutil.Process(pid).memory_info().rss
                with self._lock:
                    self.samples.append((time.monotonic(), int(rss), float(pid)))
            except psutil.Error:
                pass
            self._stop.wait(self._interval)

    def peak_mib(self, since: float = 0.0, until: float = float("inf")) -> float:
        with self._lock:
            values = [rss for t, rss, _ in self.samples if since <= t <= until]
        return round(max(values) / 2**20, 1) if values else 0.0

    def median_mib(self, since: float, until: float = float("inf")) -> float:
        with self._lock:
            values = [rss for t, rss, _ in self.samples if since <= t <= until]
        return round(statistics.median(values) / 2**20, 1) if values else 0.0

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


# --------------------------------------------------------------------------
# Profile (py-spy)


class Profiler:
    """``py-spy record`` of one pid into raw collapsed stacks until :meth:`stop`."""

    def __init__(self, py_spy: str, pid: int, out: Path, rate: int = 100) -> None:
        self.out = out
        self.error = ""
        self._proc: subprocess.Popen[str] | None = None
        try:
            self._proc = subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(rate),
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--output",
                    str(out),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        except OSError as err:
            self.error = f"py-spy could not start: {err}"

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(2)  # SIGINT: py-spy writes its output and exits
        try:
            output, _ = self._proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            output, _ = self._proc.communicate()
        self._proc = None  # stopped: a second stop() does nothing
        if not self.out.exists():
            self.error = (output or "").strip()[-500:] or "py-spy wrote no output"


# Ordered: the first pattern that matches a frame's file names its category.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("interconnect_operator", "our code"),
    ("/kopf/", "kopf"),
    ("/aiohttp/", "aiohttp (kopf's Kubernetes client)"),
    ("/yarl/", "aiohttp (kopf's Kubernetes client)"),
    ("/multidict/", "aiohttp (kopf's Kubernetes client)"),
    ("/httpx/", "httpx (provider client)"),
    ("/httpcore/", "httpx (provider client)"),
    ("/h11/", "httpx (provider client)"),
    ("/anyio/", "httpx (provider client)"),
    ("/pydantic", "pydantic"),
    ("/prometheus_client/", "prometheus_client"),
    ("/kubernetes/", "kubernetes client"),
    ("/json/", "json"),
    ("/logging/", "logging"),
    ("/ssl.py", "ssl"),
    ("/sniffio/", "httpx (provider client)"),
    ("<frozen importlib", "import machinery"),
    ("/site-packages/setuptools/", "import machinery"),
    ("/_distutils_hack/", "import machinery"),
    ("/asyncio/", "asyncio event loop"),
    ("/selectors.py", "asyncio event loop"),
)
STDLIB_CATEGORIES = frozenset(
    {"json", "logging", "ssl", "asyncio event loop", "import machinery", "other (stdlib, builtins)"}
)
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _category(file: str) -> str:
    # py-spy names files relative to their sys.path entry ("httpx/_client.py").
    path = file if file.startswith("/") else "/" + file
    for pattern, name in CATEGORIES:
        if pattern in path:
            return name
    return "other (stdlib, builtins)"


def summarise_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """Where CPU goes in py-spy raw output.

    ``self``: the category of the innermost frame (where the CPU was spent);
    ``owner``: the innermost non-stdlib frame (which library asked for that
    work: JSON decoding under kopf counts for kopf); ``inclusive``: share of
    samples with any frame of the category on the stack.
    """
    self_cat: Counter[str] = Counter()
    owner_cat: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaf_funcs: Counter[str] = Counter()
    our_funcs: Counter[str] = Counter()
    total = 0
    for raw in path.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames: list[tuple[str, str, str]] = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame.strip())
            if match:
                frames.append((match["func"], match["file"], _category(match["file"])))
        # Drop the frames every sample shares (entry point, kopf.run, the event
        # loop) down to the callback the loop dispatched, so that "inclusive"
        # and "owner" name the code that asked for the work.
        dispatch = [i for i, (f, _, _) in enumerate(frames) if f == "Handle._run"]
        if dispatch and dispatch[-1] + 1 < len(frames):
            frames = frames[dispatch[-1] + 1 :]
        if not frames:
            continue
        total += count
        func, file, cat = frames[-1]
        self_cat[cat] += count
        leaf_funcs[f"{func} ({Path(file).name})"] += count
        owner = next((c for _, _, c in reversed(frames) if c not in STDLIB_CATEGORIES), cat)
        owner_cat[owner] += count
        for c in {c for _, _, c in frames}:
            inclusive[c] += count
        for f, fl, c in {(f, fl, c) for f, fl, c in frames}:
            if c == "our code":
                our_funcs[f"{f} ({Path(fl).name})"] += count

    def share(counter: Counter[str]) -> dict[str, float]:
        return {k: round(100.0 * v / total, 1) for k, v in counter.most_common()} if total else {}

    return {
        "samples": total,
        "self_percent": share(self_cat),
        "owner_percent": share(owner_cat),
        "inclusive_percent": share(inclusive),
        "top_leaf_functions": {
            k: round(100.0 * v / total, 1) for k, v in leaf_funcs.most_common(top)
        },
        "top_our_functions_inclusive": {
            k: round(100.0 * v / total, 1) for k, v in our_funcs.most_common(top)
        },
    }
