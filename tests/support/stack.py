"""The operator's stack as real processes: simulators, the operator, manifests.

Shared by the e2e tests, ``make demo`` (hack/demo.py), the benchmark and the
fault suite, so that all of them run the same parts the same way:

- :func:`start_simulator`: ``interconnect-operator simulate`` as a process on a
  free loopback port, with bearer tokens and optional faults/state file;
- :func:`operator_kubeconfig`: the operator's identity: a ServiceAccount
  bound to exactly the RBAC the chart ships (``k8s/rbac.py``), as a token
  kubeconfig;
- :func:`start_operator`: ``interconnect-operator run`` as a process under
  that identity;
- :func:`pool_manifests`: Secret + CapacityPool for two simulators;
- :class:`Kube`: apply/get/delete through ``kubectl`` (the one the rig built).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.cluster import kubectl_path, make_sa_kubeconfig
from tests.support.ports import free_port

REPO = Path(__file__).resolve().parents[2]
POOL_ENVIRONMENT = "aws-gcp-us-east"


def console_script(name: str) -> str:
    """A console script of the project's venv (the one running this code)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def _wait_http(url: str, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.1)
    tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} did not answer at {url} within {timeout}s ({last})\n{tail}")


@dataclass
class Simulator:
    """One reference provider process."""

    provider_id: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    tokens: dict[str, str] = field(default_factory=dict)
    """caller provider id -> bearer token this server accepts from it."""
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, path: str, body: Any = None, method: str | None = None) -> Any:
        """Call an admin endpoint (``/admin/...``) and return its JSON."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method or ("POST" if data is not None else "GET"),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def state(self) -> Any:
        return self.admin("/admin/state")

    def stats(self) -> Any:
        return self.admin("/admin/stats")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self) -> None:
        """Stop and start again with the same arguments (same port, same state file)."""
        self.stop()
        self.process = _spawn(list(self.args), self.log_path)
        _wait_http(f"{self.url}/healthz", 30, f"simulator {self.provider_id}", self.log_path)


def _spawn(
    argv: list[str], log_path: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    handle = log_path.open("ab")
    return subprocess.Popen(
        argv,
        stdout=handle,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        start_new_session=True,
    )


def start_simulator(
    provider_id: str,
    *,
    log_dir: Path,
    tokens: Mapping[str, str] | None = None,
    port: int | None = None,
    provisioning_delay: float = 0.0,
    state_file: Path | None = None,
    extra_args: Sequence[str] = (),
) -> Simulator:
    """Start ``interconnect-operator simulate`` and wait for /healthz."""
    port = port or free_port()
    argv = [
        console_script("interconnect-operator"),
        "simulate",
        "--provider-id",
        provider_id,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--provisioning-delay",
        str(provisioning_delay),
        "--log-level",
        "WARNING",
    ]
    for caller, token in (tokens or {}).items():
        argv += ["--token", f"{caller}={token}"]
    if state_file is not None:
        argv += ["--state", str(state_file)]
    argv += list(extra_args)
    log_path = log_dir / f"simulator-{provider_id}-{port}.log"
    process = _spawn(argv, log_path)
    sim = Simulator(provider_id, port, process, log_path, dict(tokens or {}), tuple(argv))
    _wait_http(f"{sim.url}/healthz", 30, f"simulator {provider_id}", log_path)
    return sim


@dataclass
class OperatorProcess:
    """``interconnect-operator run`` as a separate process."""

    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_port: int
    liveness_port: int
    args: tuple[str, ...]
    env: dict[str, str]

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=10) as response:
            raw: bytes = response.read()
        return raw.decode()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode or 0)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.process = _spawn(list(self.args), self.log_path, self.env)
        _wait_http(f"http://127.0.0.1:{self.liveness_port}/healthz", 60, "operator", self.log_path)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_operator(
    kubeconfig: Path,
    *,
    log_dir: Path,
    operator_namespace: str,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    name: str = "operator",
    command: Sequence[str] | None = None,
) -> OperatorProcess:
    """Run the operator against ``kubeconfig``; waits for its liveness endpoint.

    ``command``: the operator's command line before ``run`` (default: the
    console script, or ICO_OPERATOR_COMMAND).
    """
    metrics_port, liveness_port = free_port(), free_port()
    # ICO_OPERATOR_COMMAND runs the operator some other way, e.g. inside the
    # image: "buildah run --isolation chroot -v /tmp:/tmp CONTAINER -- interconnect-operator".
    env_command = os.environ.get("ICO_OPERATOR_COMMAND")
    if command is None:
        command = (
            shlex.split(env_command) if env_command else [console_script("interconnect-operator")]
        )
    argv = [
        *command,
        "run",
        "--kubeconfig",
        str(kubeconfig),
        "--operator-namespace",
        operator_namespace,
        "--metrics-port",
        str(metrics_port),
        "--metrics-host",
        "127.0.0.1",
        "--liveness",
        f"http://127.0.0.1:{liveness_port}/healthz",
        *extra_args,
    ]
    full_env = {"KUBECONFIG": str(kubeconfig), **(env or {})}
    log_path = log_dir / f"{name}.log"
    process = _spawn(argv, log_path, full_env)
    op = OperatorProcess(process, log_path, metrics_port, liveness_port, tuple(argv), full_env)
    _wait_http(f"http://127.0.0.1:{liveness_port}/healthz", 60, "operator", log_path)
    return op


class Kube:
    """kubectl against one kubeconfig (the binary the rig built)."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.kubectl = str(kubectl_path())

    def run(self, *args: str, input_text: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [self.kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout

    def apply(self, docs: Iterable[Mapping[str, Any]] | str, *args: str) -> str:
        text = docs if isinstance(docs, str) else yaml.safe_dump_all(list(docs))
        return self.run("apply", "-f", "-", *args, input_text=text)

    def apply_file(self, path: Path, *args: str) -> str:
        return self.run("apply", "-f", str(path), *args)

    def get(self, kind: str, name: str | None = None, namespace: str | None = None) -> Any:
        args = ["get", kind, "-o", "json"]
        if name:
            args.insert(2, name)
        if namespace:
            args += ["-n", namespace]
        elif name is None:
            args.append("-A")
        return json.loads(self.run(*args))

    def try_get(self, kind: str, name: str, namespace: str | None = None) -> Any | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found"]
        if namespace:
            args += ["-n", namespace]
        out = self.run(*args)
        return json.loads(out) if out.strip() else None

    def delete(
        self, kind: str, name: str, namespace: str | None = None, wait: bool = False
    ) -> None:
        args = ["delete", kind, name, "--ignore-not-found", f"--wait={str(wait).lower()}"]
        if namespace:
            args += ["-n", namespace]
        self.run(*args)

    def events(self, namespace: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("events", namespace=namespace)["items"]
        return items


def operator_kubeconfig(
    kube: Kube,
    *,
    operator_namespace: str,
    path: Path,
    service_account: str = "interconnect-operator",
    link_secret_namespaces: Sequence[str] = (),
) -> Path:
    """The operator's own identity: the chart's RBAC (k8s/rbac.py), bound to a ServiceAccount."""
    from interconnect_operator.k8s.rbac import render_rbac

    kube.apply(
        [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": operator_namespace}}]
    )
    manifests = render_rbac(
        operator_namespace,
        service_account,
        name=f"interconnect-operator-{operator_namespace}",
        link_secret_namespaces=link_secret_namespaces,
    )
    kube.apply(manifests)
    return make_sa_kubeconfig(operator_namespace, service_account, path, kubeconfig=kube.kubeconfig)


def pool_manifests(
    name: str,
    *,
    negotiator: Simulator,
    responder: Simulator,
    operator_namespace: str,
    refresh_interval: int = 5,
    policy: Mapping[str, Any] | None = None,
    environment: str = POOL_ENVIRONMENT,
) -> list[dict[str, Any]]:
    """Secret with both bearer tokens + a CapacityPool over two simulators."""
    secret_name = f"{name}-credentials"
    data = {
        "responder-token": responder.tokens[negotiator.provider_id],
        "negotiator-token": negotiator.tokens[responder.provider_id],
    }

    def provider(sim: Simulator, role: str, key: str) -> dict[str, Any]:
        return {
            "name": sim.provider_id,
            "endpoint": sim.url,
            "role": role,
            "auth": {"type": "Bearer", "secretRef": {"name": secret_name, "key": key}},
        }

    spec: dict[str, Any] = {
        "environment": environment,
        "providers": [
            provider(responder, "Responder", "responder-token"),
            provider(negotiator, "Negotiator", "negotiator-token"),
        ],
        "refreshInterval": refresh_interval,
    }
    if policy:
        spec["policy"] = dict(policy)
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret_name, "namespace": operator_namespace},
            "type": "Opaque",
            "stringData": data,
        },
        {
            "apiVersion": "interconnect.io/v1alpha1",
            "kind": "CapacityPool",
            "metadata": {"name": name},
            "spec": spec,
        },
    ]


def link_manifest(
    name: str,
    namespace: str,
    pool: str,
    bandwidth_mbps: int = 1000,
    **spec: Any,
) -> dict[str, Any]:
    """A MulticloudLink with a destination account (no secret needed) unless spec says otherwise."""
    body: dict[str, Any] = {"poolRef": {"name": pool}, "bandwidthMbps": bandwidth_mbps}
    if "activationKey" not in spec:
        body["destinationAccountId"] = "123456789012"
    body.update(spec)
    return {
        "apiVersion": "interconnect.io/v1alpha1",
        "kind": "MulticloudLink",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.25) -> Any:
    """Poll ``predicate`` until it returns a truthy value; raise with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def condition(obj: Mapping[str, Any] | None, type_: str) -> Mapping[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def is_ready(obj: Mapping[str, Any] | None) -> bool:
    cond = condition(obj, "Ready")
    return bool(cond and cond.get("status") == "True")
