"""A real Kubernetes control plane (etcd + kube-apiserver) for tests.

The binaries are built from their published Go modules by
``hack/build-controlplane.sh`` (kube-apiserver, etcd, kubectl, helm); this
module finds them (building them when missing), makes a PKI with
``cryptography`` (CA, serving certificate, an admin client certificate in
``system:masters``, service-account signing keys), starts etcd and
kube-apiserver on free loopback ports with RBAC on, writes an admin
kubeconfig and waits for ``/readyz``.

What a bare API server does not do: no controller-manager, no scheduler, no
kubelet. Pods never run, namespaces have no default ServiceAccount, deleted
namespaces stay Terminating and aggregated ClusterRoles stay empty.

Python use::

    with ControlPlane() as cp:
        print(cp.kubeconfig, cp.server)

Shell use::

    python -m tests.support.cluster up      # prints: export KUBECONFIG=...
    python -m tests.support.cluster status
    python -m tests.support.cluster down

With ``E2E_EXISTING_CLUSTER=1``, :func:`existing_cluster` returns the
kubeconfig named by ``KUBECONFIG`` (e.g. a kind cluster) instead.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from tests.support.pki import PKIFiles, make_pki
from tests.support.ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "hack" / "build-controlplane.sh"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"

DEFAULT_AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""


def cache_dir() -> Path:
    """The project's cache folder (``$ICO_CACHE`` or ``<repo>/.cache``)."""
    return Path(os.environ.get("ICO_CACHE", str(REPO_ROOT / ".cache"))).resolve()


def cluster_state_dir() -> Path:
    """Where the detached (``up``/``down``) cluster keeps its state."""
    return cache_dir() / "cluster"


# --------------------------------------------------------------------------
# Binaries


@dataclass(frozen=True)
class Binaries:
    """Paths of the control-plane binaries and the versions they were built at."""

    kube_apiserver: Path
    etcd: Path
    kubectl: Path
    helm: Path
    k8s_version: str
    etcd_version: str
    helm_version: str
    #: The referees: cli-utils' kstatus (hack/kstatus) and helm-docs.
    kstatus: Path = Path("kstatus")
    helm_docs: Path = Path("helm-docs")


def _parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


def ensure_binaries(*, quiet: bool = False) -> Binaries:
    """Build the binaries if needed (fast when present) and return their paths."""
    stderr = subprocess.DEVNULL if quiet else None
    subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        cwd=REPO_ROOT,
    )
    env = _parse_env_file(cache_dir() / "bin" / "current.env")
    return Binaries(
        kube_apiserver=Path(env["KUBE_APISERVER"]),
        etcd=Path(env["ETCD"]),
        kubectl=Path(env["KUBECTL"]),
        helm=Path(env["HELM"]),
        k8s_version=env["ICO_K8S_VERSION"],
        etcd_version=env["ICO_ETCD_VERSION"],
        helm_version=env["ICO_HELM_VERSION"],
        kstatus=Path(env["KSTATUS"]),
        helm_docs=Path(env["HELM_DOCS"]),
    )


def kubectl_path() -> Path:
    """kubectl to use: ``$KUBECTL``, else the built one, else one on PATH."""
    if os.environ.get("KUBECTL"):
        return Path(os.environ["KUBECTL"])
    env_file = cache_dir() / "bin" / "current.env"
    if env_file.exists():
        built = Path(_parse_env_file(env_file).get("KUBECTL", ""))
        if built.is_file():
            return built
    found = shutil.which("kubectl")
    if found:
        return Path(found)
    return ensure_binaries().kubectl


# --------------------------------------------------------------------------
# Kubeconfigs


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
    token: str | None = None,
    namespace: str | None = None,
    cluster_name: str = "ico-test",
) -> Path:
    """Write a self-contained kubeconfig (all data inline) and return its path."""
    user_data: dict[str, str] = {}
    if client_cert_pem is not None and client_key_pem is not None:
        user_data["client-certificate-data"] = _b64(client_cert_pem)
        user_data["client-key-data"] = _b64(client_key_pem)
    if token is not None:
        user_data["token"] = token
    context: dict[str, str] = {"cluster": cluster_name, "user": user}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": server, "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [{"name": user, "user": user_data}],
        "contexts": [{"name": f"{user}@{cluster_name}", "context": context}],
        "current-context": f"{user}@{cluster_name}",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def make_sa_kubeconfig(
    namespace: str,
    sa_name: str,
    path: Path,
    *,
    kubeconfig: Path | None = None,
    duration: str = "2h",
    create: bool = True,
) -> Path:
    """Write a kubeconfig authenticating as a ServiceAccount (any cluster).

    Uses kubectl with ``kubeconfig`` (default ``$KUBECONFIG``): creates the
    ServiceAccount when ``create`` and it is missing, asks the TokenRequest
    API for a token (``kubectl create token``) and copies the cluster entry.
    """
    kc = kubeconfig or Path(os.environ["KUBECONFIG"])
    kubectl = [str(kubectl_path()), "--kubeconfig", str(kc)]
    if create:
        sa = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": sa_name, "namespace": namespace},
        }
        subprocess.run(
            [*kubectl, "apply", "-f", "-"],
            input=json.dumps(sa),
            text=True,
            check=True,
            capture_output=True,
        )
    token = subprocess.run(
        [*kubectl, "create", "token", sa_name, "-n", namespace, f"--duration={duration}"],
        text=True,
        check=True,
        capture_output=True,
    ).stdout.strip()
    view = yaml.safe_load(
        subprocess.run(
            [*kubectl, "config", "view", "--raw", "--minify", "-o", "yaml"],
            text=True,
            check=True,
            capture_output=True,
        ).stdout
    )
    cluster = view["clusters"][0]["cluster"]
    if "certificate-authority-data" in cluster:
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
    else:
        ca_pem = Path(cluster["certificate-authority"]).read_bytes()
    return write_kubeconfig(
        path,
        server=cluster["server"],
        ca_pem=ca_pem,
        user=f"system:serviceaccount:{namespace}:{sa_name}",
        token=token,
        namespace=namespace,
    )


def existing_cluster() -> Path | None:
    """With ``E2E_EXISTING_CLUSTER=1``, the kubeconfig of that cluster; else None."""
    if os.environ.get("E2E_EXISTING_CLUSTER", "") not in ("1", "true", "yes"):
        return None
    kc = os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
    first = Path(kc.split(os.pathsep)[0]).expanduser().resolve()
    if not first.is_file():
        raise RuntimeError(f"E2E_EXISTING_CLUSTER=1 but kubeconfig {first} does not exist")
    return first


# --------------------------------------------------------------------------
# Processes


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Child pre-exec: get SIGTERM when the parent (the test run) dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie of ours still answers kill(0); reap it if it is our child.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        stat = Path(f"/proc/{pid}/stat")
        try:
            return stat.read_text().split(") ", 1)[1][0] != "Z"
        except (OSError, IndexError):
            return False


def _terminate(pid: int, timeout: float = 20.0) -> None:
    """SIGTERM, wait, then SIGKILL."""
    if not _pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB (0 if unknown)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class ControlPlaneError(RuntimeError):
    """The control plane failed to start or to answer."""


class ControlPlane:
    """etcd + kube-apiserver on loopback, with RBAC, for tests.

    ``work_dir`` holds the PKI, etcd data and kubeconfig (a temporary folder,
    removed on stop, when not given); ``log_dir`` keeps the processes' logs
    (``work_dir/logs`` when not given; never removed). ``audit=True`` turns
    on the audit log (``audit_log_path``) with ``audit_policy`` (YAML text;
    default: every request at Metadata level), e.g. for counting writes.
    ``detached=True`` starts the processes in their own sessions so that they
    outlive this Python process (the CLI's ``up``).
    """

    def __init__(
        self,
        work_dir: Path | None = None,
        *,
        log_dir: Path | None = None,
        audit: bool = False,
        audit_policy: str | None = None,
        detached: bool = False,
        extra_apiserver_args: Sequence[str] = (),
        startup_timeout: float = 120.0,
        binaries: Binaries | None = None,
    ) -> None:
        self._own_work_dir = work_dir is None
        self.work_dir = (
            Path(tempfile.mkdtemp(prefix="ico-cp-")) if work_dir is None else work_dir.resolve()
        )
        self._log_dir = (log_dir or self.work_dir / "logs").resolve()
        self.audit = audit
        self.audit_policy = audit_policy
        self.detached = detached
        self.extra_apiserver_args = list(extra_apiserver_args)
        self.startup_timeout = startup_timeout
        self._binaries = binaries
        self._pki: PKIFiles | None = None
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None
        self.etcd_url = ""
        self.secure_port = 0
        self.start_seconds = 0.0

    # -- public properties ------------------------------------------------

    @property
    def binaries(self) -> Binaries:
        if self._binaries is None:
            self._binaries = ensure_binaries()
        return self._binaries

    @property
    def kubeconfig(self) -> Path:
        """Admin kubeconfig (client certificate CN=admin, O=system:masters)."""
        return self.work_dir / "kubeconfig"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.secure_port}"

    @property
    def log_dir(self) -> Path:
        return self._log_dir

    @property
    def pki(self) -> PKIFiles:
        if self._pki is None:
            raise ControlPlaneError("control plane not started")
        return self._pki

    @property
    def ca_file(self) -> Path:
        return self.pki.ca_cert

    @property
    def ca_pem(self) -> bytes:
        return self.pki.ca_cert.read_bytes()

    @property
    def audit_log_path(self) -> Path | None:
        return self._log_dir / "audit.log" if self.audit else None

    @property
    def pids(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self._etcd is not None:
            out["etcd"] = self._etcd.pid
        if self._apiserver is not None:
            out["kube-apiserver"] = self._apiserver.pid
        return out

    @property
    def apiserver_rss_kib(self) -> int:
        return rss_kib(self._apiserver.pid) if self._apiserver is not None else 0

    # -- lifecycle ----------------------------------------------------------

    def __enter__(self) -> ControlPlane:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Start etcd and kube-apiserver and wait until the API server is ready."""
        if self._apiserver is not None:
            return
        bins = self.binaries
        began = time.monotonic()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._log_dir.mkdir(parents=True, exist_ok=True)
        self._pki = make_pki(self.work_dir / "pki")
        try:
            self._start_etcd(bins)
            self._start_apiserver(bins)
        except BaseException:
            self.stop()
            raise
        write_kubeconfig(
            self.kubeconfig,
            server=self.server,
            ca_pem=self.ca_pem,
            user="admin",
            client_cert_pem=self.pki.admin_cert.read_bytes(),
            client_key_pem=self.pki.admin_key.read_bytes(),
        )
        self.start_seconds = time.monotonic() - began

    def _popen(self, args: list[str], log_name: str) -> subprocess.Popen[bytes]:
        log = (self._log_dir / log_name).open("ab")
        try:
            if self.detached:
                return subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            return subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - tests start no threads first
            )
        finally:
            log.close()

    def _start_etcd(self, bins: Binaries) -> None:
        data_dir = self.work_dir / "etcd-data"
        if data_dir.exists():
            shutil.rmtree(data_dir)
        client_port, peer_port = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{client_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        args = [
            str(bins.etcd),
            "--name=default",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=default={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
        self._etcd = self._popen(args, "etcd.log")
        proc = self._etcd

        def healthy() -> bool:
            with urllib.request.urlopen(f"{self.etcd_url}/health", timeout=2) as resp:
                body = json.loads(resp.read())
            return str(body.get("health")) == "true"

        self._wait(healthy, proc, "etcd", self._log_dir / "etcd.log")

    def _start_apiserver(self, bins: Binaries) -> None:
        pki = self.pki
        self.secure_port = free_port()
        args = [
            str(bins.kube_apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.secure_port}",
            f"--cert-dir={self.work_dir / 'pki'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--service-account-issuer=https://127.0.0.1:{self.secure_port}",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--disable-admission-plugins=ServiceAccount",
            "--v=1",
        ]
        if self.audit:
            policy = self.work_dir / "audit-policy.yaml"
            policy.write_text(self.audit_policy or DEFAULT_AUDIT_POLICY)
            args += [
                f"--audit-policy-file={policy}",
                f"--audit-log-path={self._log_dir / 'audit.log'}",
                "--audit-log-format=json",
                "--audit-log-mode=blocking",
                "--audit-log-maxsize=0",
            ]
        args += self.extra_apiserver_args
        self._apiserver = self._popen(args, "kube-apiserver.log")
        proc = self._apiserver
        ctx = self.ssl_context()

        def ready() -> bool:
            req = urllib.request.Request(f"{self.server}/readyz")
            with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
                return int(resp.status) == 200

        self._wait(ready, proc, "kube-apiserver", self._log_dir / "kube-apiserver.log")

    def _wait(
        self,
        check: Callable[[], bool],
        proc: subprocess.Popen[bytes],
        what: str,
        log: Path,
    ) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ControlPlaneError(
                    f"{what} exited with code {proc.returncode}; log {log}:\n{_tail(log)}"
                )
            try:
                if check():
                    return
            except (OSError, urllib.error.URLError, ValueError) as err:
                last_error = str(err)
            time.sleep(0.1)
        raise ControlPlaneError(
            f"{what} not ready after {self.startup_timeout}s ({last_error}); "
            f"log {log}:\n{_tail(log)}"
        )

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd; remove a temporary work dir (not logs)."""
        for proc in (self._apiserver, self._etcd):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self._apiserver = None
        self._etcd = None
        data_dir = self.work_dir / "etcd-data"
        if data_dir.exists():
            shutil.rmtree(data_dir, ignore_errors=True)
        if self._own_work_dir and self.work_dir.exists():
            # Remove the temporary work dir, except the logs if they live in it.
            for entry in self.work_dir.iterdir():
                if entry == self._log_dir:
                    continue
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
            if not self._log_dir.is_relative_to(self.work_dir):
                shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- talking to the API server -----------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """TLS context trusting the CA and presenting the admin client certificate."""
        ctx = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        ctx.load_cert_chain(str(self.pki.admin_cert), str(self.pki.admin_key))
        return ctx

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call as admin; returns the decoded JSON body."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.server}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, context=self.ssl_context(), timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def make_sa_kubeconfig(
        self,
        namespace: str,
        sa_name: str,
        path: Path,
        *,
        expiration_seconds: int = 7200,
        create: bool = True,
    ) -> Path:
        """Kubeconfig for a ServiceAccount with a token from the TokenRequest API.

        Creates the ServiceAccount first when ``create`` (an existing one is
        kept). The namespace must exist.
        """
        if create:
            try:
                self.request(
                    "POST",
                    f"/api/v1/namespaces/{namespace}/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa_name}},
                )
            except urllib.error.HTTPError as err:
                if err.code != 409:
                    raise
        result = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa_name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": expiration_seconds},
            },
        )
        return write_kubeconfig(
            path,
            server=self.server,
            ca_pem=self.ca_pem,
            user=f"system:serviceaccount:{namespace}:{sa_name}",
            token=str(result["status"]["token"]),
            namespace=namespace,
        )

    def count_audit_events(
        self, verbs: Sequence[str] = ("create", "update", "patch", "delete")
    ) -> int:
        """Audit events (stage ResponseComplete) with one of ``verbs`` so far."""
        path = self.audit_log_path
        if path is None or not path.exists():
            return 0
        wanted = set(verbs)
        count = 0
        with path.open() as fh:
            for line in fh:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if event.get("stage") == "ResponseComplete" and event.get("verb") in wanted:
                    count += 1
        return count

    # -- detached state (CLI) ------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "pids": self.pids,
            "server": self.server,
            "etcd_url": self.etcd_url,
            "work_dir": str(self.work_dir),
            "log_dir": str(self._log_dir),
            "kubeconfig": str(self.kubeconfig),
            "k8s_version": self.binaries.k8s_version,
            "ca_cert": str(self.pki.ca_cert),
            "admin_cert": str(self.pki.admin_cert),
            "admin_key": str(self.pki.admin_key),
        }


@dataclass
class ClusterHandle:
    """The cluster a test run talks to: a local ControlPlane or an existing one."""

    kubeconfig: Path
    server: str
    control_plane: ControlPlane | None = None

    @property
    def existing(self) -> bool:
        return self.control_plane is None

    def make_sa_kubeconfig(self, namespace: str, sa_name: str, path: Path) -> Path:
        """Kubeconfig authenticating as ``namespace/sa_name`` (created if missing)."""
        if self.control_plane is not None:
            return self.control_plane.make_sa_kubeconfig(namespace, sa_name, path)
        return make_sa_kubeconfig(namespace, sa_name, path, kubeconfig=self.kubeconfig)

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path) -> ClusterHandle:
        """Handle on an existing cluster (server from the current context)."""
        config = yaml.safe_load(kubeconfig.read_text())
        current = config.get("current-context")
        contexts = {c["name"]: c["context"] for c in config.get("contexts", [])}
        clusters = {c["name"]: c["cluster"] for c in config.get("clusters", [])}
        cluster_name = contexts[current]["cluster"] if current in contexts else next(iter(clusters))
        return cls(kubeconfig=kubeconfig, server=str(clusters[cluster_name]["server"]))


def pinned_k8s_version() -> str:
    """The k8s.io/kubernetes version pinned in hack/controlplane/go.mod."""
    for line in (REPO_ROOT / "hack" / "controlplane" / "go.mod").read_text().splitlines():
        parts = line.split()
        if "k8s.io/kubernetes" in parts:
            version = parts[parts.index("k8s.io/kubernetes") + 1 :][:1]
            if version and version[0].startswith("v"):
                return version[0]
    raise RuntimeError("k8s.io/kubernetes not found in hack/controlplane/go.mod")


# --------------------------------------------------------------------------
# CLI (detached cluster under .cache/cluster/)


def _state_file() -> Path:
    return cluster_state_dir() / "state.json"


def _load_state() -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    return data


def _state_ready(state: dict[str, Any]) -> bool:
    pids: dict[str, int] = state.get("pids", {})
    if not pids or not all(_pid_alive(int(p)) for p in pids.values()):
        return False
    try:
        ctx = ssl.create_default_context(cafile=state["ca_cert"])
        ctx.load_cert_chain(state["admin_cert"], state["admin_key"])
        with urllib.request.urlopen(f"{state['server']}/readyz", context=ctx, timeout=5) as resp:
            return int(resp.status) == 200
    except (OSError, KeyError, urllib.error.URLError):
        return False


def _down(state: dict[str, Any] | None) -> None:
    if state:
        pids: dict[str, int] = state.get("pids", {})
        for name in ("kube-apiserver", "etcd"):
            if name in pids:
                _terminate(int(pids[name]))
    data_dir = cluster_state_dir() / "etcd-data"
    if data_dir.exists():
        shutil.rmtree(data_dir, ignore_errors=True)
    _state_file().unlink(missing_ok=True)


def cmd_up(audit: bool) -> int:
    state = _load_state()
    kubeconfig = cluster_state_dir() / "kubeconfig"
    if state and _state_ready(state):
        print(f"cluster already running at {state['server']}", file=sys.stderr)
        print(f"export KUBECONFIG={kubeconfig}")
        return 0
    _down(state)  # clear a stale one
    cp = ControlPlane(
        cluster_state_dir(),
        log_dir=cluster_state_dir() / "logs",
        audit=audit,
        detached=True,
    )
    cp.start()
    _state_file().write_text(json.dumps(cp.state(), indent=2))
    print(
        f"kube-apiserver {cp.binaries.k8s_version} at {cp.server} "
        f"(started in {cp.start_seconds:.1f}s; logs {cp.log_dir})",
        file=sys.stderr,
    )
    print(f"export KUBECONFIG={cp.kubeconfig}")
    return 0


def cmd_down() -> int:
    state = _load_state()
    _down(state)
    print("cluster stopped" if state else "no cluster state; nothing to stop", file=sys.stderr)
    return 0


def cmd_status() -> int:
    state = _load_state()
    if not state:
        print("down (no state)")
        return 1
    if _state_ready(state):
        pids = state.get("pids", {})
        rss = rss_kib(int(pids.get("kube-apiserver", 0))) // 1024
        print(
            f"up: {state['server']} k8s {state.get('k8s_version')} pids {pids} "
            f"kube-apiserver RSS {rss} MiB"
        )
        print(f"export KUBECONFIG={state['kubeconfig']}")
        return 0
    print(f"not ready (stale state in {_state_file()}; run `down`)")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.cluster",
        description="Run a local kube-apiserver + etcd for development and tests.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start detached (no-op if running); prints export KUBECONFIG=")
    up.add_argument("--audit", action="store_true", help="write an audit log to logs/audit.log")
    sub.add_parser("down", help="stop the detached cluster")
    sub.add_parser("status", help="show whether the detached cluster is up")
    sub.add_parser("build", help="build the binaries (hack/build-controlplane.sh)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return cmd_up(bool(args.audit))
        if args.command == "down":
            return cmd_down()
        if args.command == "status":
            return cmd_status()
        bins = ensure_binaries()
        print(bins.kube_apiserver.parent)
        return 0
    except (ControlPlaneError, subprocess.CalledProcessError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
