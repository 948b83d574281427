"""``make demo``: the operator's main job, end to end, on one machine.

What it runs, in order (every process it starts is recorded in
``<state dir>/state.json`` the moment it starts, so that Ctrl-C, a failure or
``make demo-down`` from another terminal stops exactly those and nothing
else):

1. a Kubernetes control plane: the test rig's etcd + kube-apiserver
   (tests/support/cluster.py; built from their Go modules on the first run),
   or the current kube context with ``DEMO_USE_CURRENT_CONTEXT=1``;
2. the CRDs (crds/);
3. two reference providers (``interconnect-operator simulate``): aws on
   127.0.0.1:8081 (Responder) and gcp on 127.0.0.1:8082 (Negotiator), each
   with a few seconds of provisioning delay so the progress is visible;
4. the operator as a process under the chart's RBAC identity (a
   ServiceAccount bound to what ``k8s/rbac.py`` renders), never as admin;
5. examples/: namespaces, the pool's Secret, the CapacityPool (endpoints and
   refresh interval adjusted, see :func:`pool_manifest`) and three links;

then it shows a table of the links (phase, channels FINAL per provider,
verification, elapsed time) once a second until every link is Ready.

With ``DEMO_APIS=customer`` the operator speaks the clouds' customer APIs
instead (docs/customer-apis.md): step 3 also starts ``fake-aws`` (8091) and
``fake-gcp`` (8092) in front of the two simulators, and step 5 applies
examples/customer/ (a pool on AWS Interconnect and Google transports, its
credentials, a Google-first and an AWS-first link).

Interactive (stdin is a terminal and ``DEMO_EXIT_WHEN_READY`` unset): the
stack keeps running after that, for ``kubectl`` and the metrics endpoint,
until Ctrl-C. Otherwise it prints the final table and stops what it started
once every link is Ready (exit 0). It exits non-zero with the reason when the
links are not Ready within ``DEMO_TIMEOUT`` seconds (default 180).

Environment:
    DEMO_USE_CURRENT_CONTEXT=1   use $KUBECONFIG / ~/.kube/config instead of the rig
    DEMO_EXIT_WHEN_READY=1       exit once every link is Ready
    DEMO_APIS=customer           the customer-API fakes instead of the symmetric API
    DEMO_AWS_PORT, DEMO_GCP_PORT simulator ports (8081, 8082)
    DEMO_FAKE_AWS_PORT, DEMO_FAKE_GCP_PORT   the customer-API fakes' ports (8091, 8092)
    DEMO_PROVISIONING_DELAY      seconds a feature stays PENDING (3)
    DEMO_TIMEOUT                 seconds to wait for Ready links (180)
    DEMO_STATE_DIR               state, logs, the rig's files (.cache/demo)

Usage: ``python hack/demo.py [up|down]`` with the repository root on
PYTHONPATH (the Makefile does that).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python hack/demo.py` without PYTHONPATH
    sys.path.insert(0, str(REPO))

from tests.support.cluster import (  # noqa: E402 - after the sys.path fix above
    ControlPlane,
    ControlPlaneError,
    cache_dir,
    ensure_binaries,
)
from tests.support.customer import (  # noqa: E402
    CustomerStack,
    start_customer_stack,
)
from tests.support.stack import (  # noqa: E402
    Kube,
    OperatorProcess,
    Simulator,
    is_ready,
    operator_kubeconfig,
    start_operator,
    start_simulator,
)

EXAMPLES = REPO / "examples"
CUSTOMER_EXAMPLES = EXAMPLES / "customer"
CUSTOMER_LINK_FILES = ("link-google-first.yaml", "link-aws-first.yaml")
CRDS = REPO / "crds"
OPERATOR_NAMESPACE = "interconnect-system"
LINK_FILES = ("link-basic.yaml", "link-large.yaml", "link-ipv6.yaml")
# The example pool refreshes every 30 s, a sensible value toward real
# providers; the demo's simulators are local and cheap to read, and a short
# refresh shows each step as it happens.
DEMO_REFRESH_INTERVAL = 5
PROVIDERS = ("aws", "gcp")


class DemoError(RuntimeError):
    """A failure the user can act on; printed without a traceback."""


class Progress:
    """One line per setup stage: time since the start, what is done, how long it took."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    @contextlib.contextmanager
    def stage(self, done: str) -> Iterator[dict[str, str]]:
        """Print ``done`` (formatted with what the body puts in the yielded dict) at the end."""
        start = time.monotonic()
        details: dict[str, str] = {}
        yield details
        took = time.monotonic() - start
        say(f"[{self.elapsed():6.1f}s] {done.format(**details)} ({_duration(took)})")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


# --------------------------------------------------------------------------
# Settings


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise DemoError(f"{name}={raw!r} is not an integer") from exc


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise DemoError(f"{name}={raw!r} is not a number") from exc


def _apis() -> bool:
    """DEMO_APIS: ``symmetric`` (default) or ``customer``."""
    raw = os.environ.get("DEMO_APIS", "").strip().lower() or "symmetric"
    if raw not in ("symmetric", "customer"):
        raise DemoError(f"DEMO_APIS={raw!r}: use symmetric or customer")
    return raw == "customer"


@dataclass(frozen=True)
class Settings:
    """What the environment asks of this run."""

    state_dir: Path
    use_current_context: bool
    exit_when_ready: bool
    aws_port: int
    gcp_port: int
    provisioning_delay: float
    timeout: float
    customer: bool = False
    fake_aws_port: int = 8091
    fake_gcp_port: int = 8092

    @classmethod
    def from_env(cls) -> Settings:
        state_dir = Path(os.environ.get("DEMO_STATE_DIR") or cache_dir() / "demo").resolve()
        return cls(
            state_dir=state_dir,
            use_current_context=_flag("DEMO_USE_CURRENT_CONTEXT"),
            # Without a terminal nobody can press Ctrl-C: finish by itself.
            exit_when_ready=_flag("DEMO_EXIT_WHEN_READY") or not sys.stdin.isatty(),
            aws_port=_int_env("DEMO_AWS_PORT", 8081),
            gcp_port=_int_env("DEMO_GCP_PORT", 8082),
            provisioning_delay=_float_env("DEMO_PROVISIONING_DELAY", 3.0),
            timeout=_float_env("DEMO_TIMEOUT", 180.0),
            customer=_apis(),
            fake_aws_port=_int_env("DEMO_FAKE_AWS_PORT", 8091),
            fake_gcp_port=_int_env("DEMO_FAKE_GCP_PORT", 8092),
        )

    @property
    def state_file(self) -> Path:
        return self.state_dir / "state.json"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"


# --------------------------------------------------------------------------
# What this run started (state.json)


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/pid/stat), or None.

    Stored next to each pid so that ``down`` never signals an unrelated
    process that reused the pid after ours exited.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(") ", 1)[-1].split()
    # After "pid (comm) " the fields start at field 3 (state): 22 - 3 = 19.
    return fields[19] if len(fields) > 19 and fields[0] != "Z" else None


def _same_process(pid: int, start: str | None) -> bool:
    return start is not None and _start_time(pid) == start


@dataclass
class State:
    """The processes and cluster objects a demo run owns; saved on every change."""

    path: Path
    demo_pid: int = field(default_factory=os.getpid)
    processes: dict[str, dict[str, Any]] = field(default_factory=dict)
    kubeconfig: str | None = None
    current_context: bool = False
    metrics_url: str | None = None

    def record(self, name: str, pid: int) -> None:
        self.processes[name] = {"pid": pid, "start": _start_time(pid)}
        self.save()

    def forget(self, name: str) -> None:
        self.processes.pop(name, None)
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "demo": {"pid": self.demo_pid, "start": _start_time(self.demo_pid)},
            "processes": self.processes,
            "kubeconfig": self.kubeconfig,
            "currentContext": self.current_context,
            "metricsUrl": self.metrics_url,
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(self.path)


def _load_state(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def _terminate(pid: int, start: str | None, timeout: float = 20.0) -> bool:
    """SIGTERM ``pid`` if it is still the process we recorded, then SIGKILL."""
    if not _same_process(pid, start):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _same_process(pid, start):
            return True
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    return True


# --------------------------------------------------------------------------
# Pieces


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the simulator (uvicorn) binds: connections of an earlier run in
        # TIME_WAIT do not make the port busy, a listener does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports(settings: Settings) -> None:
    """Fail early, before anything starts, when a simulator port is taken."""
    for provider, port, var in (
        ("aws", settings.aws_port, "DEMO_AWS_PORT"),
        ("gcp", settings.gcp_port, "DEMO_GCP_PORT"),
        *(
            (
                ("fake-aws", settings.fake_aws_port, "DEMO_FAKE_AWS_PORT"),
                ("fake-gcp", settings.fake_gcp_port, "DEMO_FAKE_GCP_PORT"),
            )
            if settings.customer
            else ()
        ),
    ):
        if not _port_free(port):
            raise DemoError(
                f"port {port} (the {provider} simulator) is already in use on 127.0.0.1. "
                f"Is a demo still running (`make demo-down`)? Otherwise free the port "
                f"or pick another one: {var}=<port> make demo"
            )


def example_tokens() -> dict[str, str]:
    """The bearer tokens of examples/pool-secrets.yaml (simulator tokens, not secrets)."""
    doc = yaml.safe_load((EXAMPLES / "pool-secrets.yaml").read_text())
    data: dict[str, str] = doc["stringData"]
    return {"aws": data["aws-token"], "gcp": data["gcp-token"]}


def pool_manifest(aws: Simulator, gcp: Simulator) -> dict[str, Any]:
    """examples/capacitypool.yaml with this run's endpoints and a 5 s refresh."""
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "capacitypool.yaml").read_text())
    endpoints = {"aws": aws.url, "gcp": gcp.url}
    for provider in doc["spec"]["providers"]:
        provider["endpoint"] = endpoints[provider["name"]]
    doc["spec"]["refreshInterval"] = DEMO_REFRESH_INTERVAL
    return doc


def link_manifests(customer: bool = False) -> list[dict[str, Any]]:
    folder, files = (CUSTOMER_EXAMPLES, CUSTOMER_LINK_FILES) if customer else (EXAMPLES, LINK_FILES)
    docs: list[dict[str, Any]] = []
    for name in files:
        docs.extend(d for d in yaml.safe_load_all((folder / name).read_text()) if d)
    return docs


def customer_credentials() -> dict[str, str]:
    """The values of examples/customer/credentials.yaml (the fakes' test values)."""
    doc = yaml.safe_load((CUSTOMER_EXAMPLES / "credentials.yaml").read_text())
    data: dict[str, str] = doc["stringData"]
    return data


def customer_pool_manifest(stack: CustomerStack) -> dict[str, Any]:
    """examples/customer/capacitypool.yaml with this run's fake endpoints and a 5 s refresh."""
    doc: dict[str, Any] = yaml.safe_load((CUSTOMER_EXAMPLES / "capacitypool.yaml").read_text())
    endpoints = {"aws": stack.aws.url, "gcp": stack.gcp.url}
    for provider in doc["spec"]["providers"]:
        provider["endpoint"] = endpoints[provider["name"]]
    doc["spec"]["refreshInterval"] = DEMO_REFRESH_INTERVAL
    return doc


def current_context_kubeconfig() -> Path:
    raw = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    first = Path(raw.split(os.pathsep)[0]).expanduser().resolve()
    if not first.is_file():
        raise DemoError(f"DEMO_USE_CURRENT_CONTEXT=1 but kubeconfig {first} does not exist")
    return first


# --------------------------------------------------------------------------
# The live table


@dataclass(frozen=True)
class Row:
    """One link as the table shows it."""

    link: str
    bandwidth: str
    phase: str
    final: str
    verified: str
    elapsed: str
    ready: bool
    reason: str


def _final_counts(status: Mapping[str, Any]) -> str:
    channels = status.get("channels") or []
    if not channels:
        return "-"
    parts = []
    for provider in PROVIDERS:
        final = sum(
            1
            for ch in channels
            for p in ch.get("provisioning") or []
            if p.get("provider") == provider
            # The wire value is PROVISIONING_STATE_FINAL; accept the short form too.
            and str(p.get("state") or "").endswith("FINAL")
        )
        parts.append(f"{provider} {final}/{len(channels)}")
    return "  ".join(parts)


def _verified(status: Mapping[str, Any]) -> str:
    providers = status.get("providers") or []
    done = [
        p["name"]
        for p in providers
        if p.get("name") and p.get("verificationState") == "VERIFICATION_STATE_VERIFIED"
    ]
    return ",".join(sorted(done)) or "-"


def _reason(obj: Mapping[str, Any]) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready" and cond.get("status") != "True":
            return f"{cond.get('reason', '')}: {cond.get('message', '')}"[:160]
    return ""


def rows(links: Sequence[Mapping[str, Any]], elapsed_s: float) -> list[Row]:
    out = []
    for obj in sorted(links, key=lambda o: (o["metadata"]["namespace"], o["metadata"]["name"])):
        status = obj.get("status") or {}
        ready = is_ready(obj)
        took = status.get("timeToReadySeconds")
        elapsed = f"{float(took):.1f}s" if ready and took is not None else f"{elapsed_s:.0f}s"
        out.append(
            Row(
                link=f"{obj['metadata']['namespace']}/{obj['metadata']['name']}",
                bandwidth=f"{obj['spec']['bandwidthMbps']} Mbps",
                phase=str(status.get("phase") or "-"),
                final=_final_counts(status),
                verified=_verified(status),
                elapsed=elapsed,
                ready=ready,
                reason=_reason(obj),
            )
        )
    return out


HEADERS = ("LINK", "BANDWIDTH", "PHASE", "CHANNELS FINAL", "VERIFIED", "ELAPSED")


def render(table: Sequence[Row]) -> list[str]:
    cells = [HEADERS] + [
        (r.link, r.bandwidth, r.phase, r.final, r.verified, r.elapsed) for r in table
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADERS))]
    return [
        "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]


class Screen:
    """Redraws the table in place on a terminal; prints changes otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self._drawn = 0
        self._last: list[str] = []

    def show(self, lines: list[str], footer: str = "") -> None:
        if self.tty:
            block = [*lines, footer] if footer else lines
            if self._drawn:
                sys.stdout.write(f"\x1b[{self._drawn}A\x1b[J")
            sys.stdout.write("\n".join(block) + "\n")
            sys.stdout.flush()
            self._drawn = len(block)
        elif lines != self._last:
            # In a log, print the table only when something in it changed
            # (the elapsed column aside), with a time stamp.
            sys.stdout.write(f"--- {time.strftime('%H:%M:%S')}\n" + "\n".join(lines) + "\n")
            sys.stdout.flush()
        self._last = lines

    def done(self) -> None:
        self._drawn = 0


# --------------------------------------------------------------------------
# The run


class Demo:
    """Starts the stack, watches the links, stops what it started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = State(settings.state_file)
        self.control_plane: ControlPlane | None = None
        self.simulators: list[Simulator] = []
        self.operator: OperatorProcess | None = None
        self.kube: Kube | None = None
        self.applied_links: list[tuple[str, str]] = []
        self.applied_pool: str | None = None
        self.progress = Progress()
        self.customer: CustomerStack | None = None

    # -- setup -------------------------------------------------------------

    def refuse_second_run(self) -> None:
        previous = _load_state(self.settings.state_file)
        if not previous:
            return
        demo = previous.get("demo") or {}
        if demo.get("pid") and _same_process(int(demo["pid"]), demo.get("start")):
            raise DemoError(
                f"a demo is already running (pid {demo['pid']}); stop it with `make demo-down`"
            )
        # A demo that died without cleaning up: stop what it left behind.
        stopped = stop_recorded(previous)
        if stopped:
            say(f"stopped {len(stopped)} process(es) left by an earlier demo: {', '.join(stopped)}")
        self.settings.state_file.unlink(missing_ok=True)

    def build_control_plane(self) -> None:
        """The Go-built binaries: cached after the first run, which compiles them."""
        go_log = self.settings.log_dir / "go-build.log"
        built = (cache_dir() / "bin" / "current.env").exists()
        if not built:
            say(
                "building kube-apiserver, etcd, kubectl, helm and the test referees from "
                f"their Go modules (first run only: 5-10 minutes; go's output: {go_log})"
            )
        # go's own output (hundreds of "go: downloading" lines) goes to the log.
        os.environ["ICO_GO_LOG"] = str(go_log)
        with self.progress.stage("control plane binaries {how}") as stage:
            binaries = ensure_binaries(quiet=built)
            stage["how"] = (
                f"{'checked' if built else 'built'}: Kubernetes {binaries.k8s_version}, "
                f"etcd {binaries.etcd_version}, helm {binaries.helm_version}"
            )

    def start_cluster(self) -> Kube:
        if self.settings.use_current_context:
            kubeconfig = current_context_kubeconfig()
            say(f"[{self.progress.elapsed():6.1f}s] using the current kube context ({kubeconfig})")
            self.state.current_context = True
        else:
            self.build_control_plane()
            work_dir = self.settings.state_dir / "cluster"
            cp = ControlPlane(
                work_dir,
                log_dir=self.settings.log_dir / "controlplane",
                # Own sessions: Ctrl-C reaches this script, which then stops
                # the API server after the operator, in order.
                detached=True,
            )
            self.control_plane = cp
            with self.progress.stage("etcd and kube-apiserver {version} ready at {server}") as st:
                try:
                    cp.start()
                finally:
                    for name, pid in cp.pids.items():
                        self.state.record(name, pid)
                st.update(version=cp.binaries.k8s_version, server=cp.server)
            kubeconfig = cp.kubeconfig
        self.state.kubeconfig = str(kubeconfig)
        self.state.save()
        kube = Kube(kubeconfig)
        self.kube = kube
        return kube

    def install_crds(self, kube: Kube) -> None:
        with self.progress.stage("CRDs installed and served (crds/)"):
            self._install_crds(kube)

    def _install_crds(self, kube: Kube) -> None:
        kube.run("apply", "--server-side", "--force-conflicts", "-f", str(CRDS))
        kube.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        # Established is not yet served: right after creation the API server
        # answers 429 "storage is (re)initializing" for a moment, which the
        # operator's first watch would log as an error.
        deadline = time.monotonic() + 30
        while not self._served(kube):
            if time.monotonic() > deadline:
                raise DemoError("the CRDs are Established but not served after 30 s")
            time.sleep(0.2)

    @staticmethod
    def _served(kube: Kube) -> bool:
        try:
            kube.run("get", "capacitypools.interconnect.io,multicloudlinks.interconnect.io", "-A")
        except RuntimeError:
            return False
        return True

    def start_customer_fakes(self) -> CustomerStack:
        settings = self.settings
        say(
            f"starting the simulated providers (aws :{settings.aws_port}, gcp "
            f":{settings.gcp_port}) and the customer-API fakes in front of them: fake-aws "
            f":{settings.fake_aws_port}, fake-gcp :{settings.fake_gcp_port}..."
        )
        credentials = customer_credentials()

        def record(name: str, pid: int) -> None:
            self.state.record(name, pid)
            self.state.save()

        stack = start_customer_stack(
            settings.log_dir,
            provisioning_delay=settings.provisioning_delay,
            aws_secret_keys={credentials["accessKeyId"]: credentials["secretAccessKey"]},
            gcp_token=credentials["gcp-token"],
            ports=(
                settings.aws_port,
                settings.gcp_port,
                settings.fake_aws_port,
                settings.fake_gcp_port,
            ),
            on_start=record,
        )
        self.customer = stack
        self.simulators += [stack.aws_sim, stack.gcp_sim]
        return stack

    def start_simulators(self) -> tuple[Simulator, Simulator]:
        with self.progress.stage(
            f"simulated providers up: aws :{self.settings.aws_port} (Responder), "
            f"gcp :{self.settings.gcp_port} (Negotiator), "
            f"{self.settings.provisioning_delay:g}s provisioning delay"
        ):
            return self._start_simulators()

    def _start_simulators(self) -> tuple[Simulator, Simulator]:
        tokens = example_tokens()
        sims = []
        # Each server accepts the token of the caller it serves: the
        # operator calls aws as gcp with the aws-token, and gcp as aws.
        for provider, port, caller in (
            ("aws", self.settings.aws_port, "gcp"),
            ("gcp", self.settings.gcp_port, "aws"),
        ):
            sim = start_simulator(
                provider,
                log_dir=self.settings.log_dir,
                tokens={caller: tokens[provider]},
                port=port,
                provisioning_delay=self.settings.provisioning_delay,
            )
            self.simulators.append(sim)
            self.state.record(f"simulator-{provider}", sim.process.pid)
            sims.append(sim)
        return sims[0], sims[1]

    def start_operator(self, kube: Kube) -> OperatorProcess:
        with self.progress.stage(
            "operator running under the chart's RBAC (ServiceAccount interconnect-operator)"
        ):
            return self._start_operator(kube)

    def _start_operator(self, kube: Kube) -> OperatorProcess:
        identity = operator_kubeconfig(
            kube,
            operator_namespace=OPERATOR_NAMESPACE,
            path=self.settings.state_dir / "operator.kubeconfig",
            # The namespaces whose Secrets links may reference (activation
            # keys, BGP MD5): the chart's rbac.linkSecretNamespaces.
            link_secret_namespaces=["team-a"],
        )
        try:
            op = start_operator(
                identity,
                log_dir=self.settings.log_dir,
                operator_namespace=OPERATOR_NAMESPACE,
                extra_args=["--per-link-metrics"],
            )
        except RuntimeError as exc:
            raise DemoError(f"the operator did not start: {exc}") from exc
        self.operator = op
        self.state.record("operator", op.process.pid)
        self.state.metrics_url = op.metrics_url
        self.state.save()
        return op

    def apply_namespaces(self, kube: Kube) -> None:
        # Before the operator's identity: its RoleBinding for link Secrets
        # (rbac.linkSecretNamespaces) lives in team-a.
        secrets = "customer/credentials.yaml" if self.settings.customer else "pool-secrets.yaml"
        with self.progress.stage(f"applied examples/namespaces.yaml and {secrets}"):
            kube.apply_file(EXAMPLES / "namespaces.yaml")
            kube.apply_file(EXAMPLES / secrets)

    def apply_customer_pool_and_links(self, kube: Kube, stack: CustomerStack) -> None:
        say(
            "applying examples/customer/capacitypool.yaml (the fakes of this run, refreshInterval "
            f"{DEMO_REFRESH_INTERVAL}s) and its two links (Google first, AWS first)...",
        )
        pool = customer_pool_manifest(stack)
        kube.apply([pool])
        self.applied_pool = pool["metadata"]["name"]
        links = link_manifests(customer=True)
        kube.apply(links)
        self.applied_links = [(d["metadata"]["namespace"], d["metadata"]["name"]) for d in links]

    def apply_pool_and_links(self, kube: Kube, aws: Simulator, gcp: Simulator) -> None:
        with self.progress.stage(
            "applied examples/capacitypool.yaml (endpoints of this run, refreshInterval "
            f"{DEMO_REFRESH_INTERVAL}s) and the three links"
        ):
            pool = pool_manifest(aws, gcp)
            kube.apply([pool])
            self.applied_pool = pool["metadata"]["name"]
            links = link_manifests()
            kube.apply(links)
            self.applied_links = [
                (d["metadata"]["namespace"], d["metadata"]["name"]) for d in links
            ]

    # -- watching ----------------------------------------------------------

    def demo_links(self, kube: Kube) -> list[dict[str, Any]]:
        wanted = set(self.applied_links)
        items: list[dict[str, Any]] = kube.get("mcl")["items"]
        return [o for o in items if (o["metadata"]["namespace"], o["metadata"]["name"]) in wanted]

    def watch(self, kube: Kube, screen: Screen) -> list[Row]:
        began = time.monotonic()
        deadline = began + self.settings.timeout
        while True:
            links = self.demo_links(kube)
            table = rows(links, time.monotonic() - began)
            all_ready = len(table) == len(self.applied_links) and all(r.ready for r in table)
            footer = "" if all_ready else "waiting for every link to be Ready (Ctrl-C stops)"
            screen.show(render(table), footer)
            if all_ready:
                return table
            if self.operator is not None and not self.operator.alive():
                raise DemoError(
                    f"the operator exited (code {self.operator.process.returncode}); "
                    f"last lines of {self.operator.log_path}:\n{_tail(self.operator.log())}"
                )
            if time.monotonic() > deadline:
                pending = "\n".join(
                    f"  {r.link}: {r.phase} {r.reason}" for r in table if not r.ready
                )
                log = self.operator.log() if self.operator is not None else ""
                raise DemoError(
                    f"links not Ready within {self.settings.timeout:g}s:\n{pending}\n"
                    f"operator log ({self.settings.log_dir / 'operator.log'}), last lines:\n"
                    f"{_tail(log)}"
                )
            time.sleep(1.0)

    # -- teardown ----------------------------------------------------------

    def remove_applied(self) -> None:
        """On someone else's cluster, delete the links and pool the demo applied.

        The operator is still running, so it releases the links at both
        providers and removes its finalizers; the namespaces, RBAC and CRDs
        stay (deleting a namespace is the cluster owner's call).
        """
        kube = self.kube
        if kube is None or not self.state.current_context:
            return
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            for namespace, name in self.applied_links:
                kube.delete("mcl", name, namespace)
            for namespace, name in self.applied_links:
                kube.run(
                    "wait",
                    "--for=delete",
                    f"mcl/{name}",
                    "-n",
                    namespace,
                    "--timeout=30s",
                    check=False,
                )
            if self.applied_pool:
                kube.delete("cpool", self.applied_pool)
                kube.run(
                    "wait",
                    "--for=delete",
                    f"cpool/{self.applied_pool}",
                    "--timeout=30s",
                    check=False,
                )
            secret = "customer-credentials" if self.settings.customer else "provider-credentials"
            kube.delete("secret", secret, OPERATOR_NAMESPACE)

    def stop(self) -> None:
        """Stop what this run started: operator, simulators, control plane."""
        self.remove_applied()
        if self.operator is not None:
            self.operator.stop()
            self.state.forget("operator")
        if self.customer is not None:
            for fake in (self.customer.aws, self.customer.gcp):
                fake.stop()
                self.state.forget(f"fake-{fake.name}")
        for sim in self.simulators:
            sim.stop()
            self.state.forget(f"simulator-{sim.provider_id}")
        if self.control_plane is not None:
            self.control_plane.stop()
            for name in ("kube-apiserver", "etcd"):
                self.state.forget(name)
        # Anything recorded but not held here (e.g. a start that failed half way).
        stop_recorded({"processes": self.state.processes})
        self.settings.state_file.unlink(missing_ok=True)

    # -- main ----------------------------------------------------------------

    def run(self) -> int:
        settings = self.settings
        self.refuse_second_run()
        check_ports(settings)
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        self.state.save()
        began = self.progress.began
        kube = self.start_cluster()
        self.install_crds(kube)
        if settings.customer:
            stack = self.start_customer_fakes()
            self.apply_namespaces(kube)
            op = self.start_operator(kube)
            self.apply_customer_pool_and_links(kube, stack)
        else:
            aws, gcp = self.start_simulators()
            self.apply_namespaces(kube)
            op = self.start_operator(kube)
            self.apply_pool_and_links(kube, aws, gcp)
        setup = time.monotonic() - began
        say(f"stack up in {setup:.1f}s; watching the links:\n")
        screen = Screen()
        table = self.watch(kube, screen)
        screen.done()
        total = time.monotonic() - began
        say(f"\nall {len(table)} links Ready ({total:.1f}s after start, setup {setup:.1f}s)\n")
        say("$ kubectl get cpool,mcl -A")
        say(kube.run("get", "cpool,mcl", "-A").rstrip())
        say()
        say(f"metrics:  {op.metrics_url}")
        say(f"logs:     {settings.log_dir}")
        if settings.exit_when_ready:
            say("DEMO_EXIT_WHEN_READY (or no terminal): stopping what the demo started")
            return 0
        say(f"kubectl:  export KUBECONFIG={self.state.kubeconfig}")
        say("stop:     Ctrl-C here, or `make demo-down` from another terminal\n")
        screen = Screen()
        while True:
            # Keep showing the links: a user may resize, pause or delete them.
            links = self.demo_links(kube)
            screen.show(render(rows(links, time.monotonic() - began)), "running (Ctrl-C stops)")
            if not op.alive():
                raise DemoError(f"the operator exited (code {op.process.returncode})")
            time.sleep(1.0)


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def say(message: str = "", *, err: bool = False) -> None:
    """Write a line for the user (this is a CLI: stdout is its interface)."""
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
    stream.flush()


def stop_recorded(state: Mapping[str, Any]) -> list[str]:
    """Stop the recorded processes still alive (operator first, API server last)."""
    order = [
        "operator",
        "fake-aws",
        "fake-gcp",
        "simulator-aws",
        "simulator-gcp",
        "kube-apiserver",
        "etcd",
    ]
    processes: Mapping[str, Mapping[str, Any]] = state.get("processes") or {}
    names = sorted(processes, key=lambda n: order.index(n) if n in order else -1)
    stopped = []
    for name in names:
        entry = processes[name]
        if _terminate(int(entry["pid"]), entry.get("start")):
            stopped.append(name)
    return stopped


class StopRequested(Exception):
    """SIGTERM arrived (``make demo-down`` or a process manager)."""


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """`make demo-down` sends SIGTERM: clean up as for Ctrl-C, then exit 0."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise StopRequested

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_up() -> int:
    try:
        settings = Settings.from_env()
    except DemoError as exc:
        say(f"demo: {exc}", err=True)
        return 2
    demo = Demo(settings)
    code = 0
    with _sigterm_as_interrupt():
        try:
            code = demo.run()
        except StopRequested:
            say("\nasked to stop (make demo-down); stopping what the demo started...")
            code = 0
        except KeyboardInterrupt:
            say("\ninterrupted; stopping what the demo started...")
            code = 130
        except (DemoError, ControlPlaneError, RuntimeError, OSError) as exc:
            # RuntimeError: kubectl or a process of tests/support/stack.py
            # failed; its message names the command and the log.
            say(f"\ndemo failed: {exc}", err=True)
            code = 1
        finally:
            # A second Ctrl-C during cleanup would leave processes behind:
            # ignore it; `make demo-down` still finds them in state.json.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            demo.stop()
            say("demo stopped")
    return code


def cmd_down() -> int:
    settings_dir = Path(os.environ.get("DEMO_STATE_DIR") or cache_dir() / "demo").resolve()
    state_file = settings_dir / "state.json"
    state = _load_state(state_file)
    if not state:
        say(f"no demo running (no state in {state_file})")
        return 0
    demo = state.get("demo") or {}
    pid = int(demo.get("pid") or 0)
    if pid and pid != os.getpid() and _same_process(pid, demo.get("start")):
        # The running demo cleans up after itself (in order, deleting what it
        # applied on a borrowed cluster); give it time before taking over.
        say(f"asking the demo (pid {pid}) to stop...")
        _terminate(pid, demo.get("start"), timeout=90)
    leftover = _load_state(state_file)
    stopped = stop_recorded(leftover) if leftover else []
    if stopped:
        say(f"stopped: {', '.join(stopped)}")
    state_file.unlink(missing_ok=True)
    say("demo stopped")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hack/demo.py",
        description="Run the operator end to end: control plane, two simulated providers, links.",
    )
    parser.add_argument("command", nargs="?", default="up", choices=["up", "down"])
    args = parser.parse_args(argv)
    return cmd_up() if args.command == "up" else cmd_down()


if __name__ == "__main__":
    sys.exit(main())
