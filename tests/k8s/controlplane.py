"""A Kubernetes control plane on loopback for the chart tests: etcd, kube-apiserver and
kube-controller-manager.

Objects are stored, validated, defaulted and admitted (Pod Security included) exactly as by a real
cluster's API server, and the controllers create the workloads' pods and claims, but there is no
scheduler and no kubelet: pods stay Pending and never run. The binaries come from
tools/k8s/build.sh (built once from the Go module proxy, then cached).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pki import ControlPlaneCredentials, generate

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "tools" / "k8s" / "build.sh"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
# Shared two-core machines start kube-apiserver in 10-40 s; past this something is wrong.
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 120.0


class ControlPlaneError(Exception):
    """A control-plane process failed to build, start or answer; the message says which and why."""


def build_binaries() -> dict[str, Path]:
    """Paths of etcd, kube-apiserver and kubectl, built on first use (see tools/k8s/build.sh)."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT), *BINARIES], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ControlPlaneError(f"tools/k8s/build.sh failed:\n{done.stderr[-4000:]}")
    paths = [Path(line) for line in done.stdout.split()]
    return dict(zip(BINARIES, paths, strict=True))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Process:
    """A child process in a session of its own, logging to a file; stopped by its own pid."""

    name: str
    log: Path
    popen: subprocess.Popen[bytes]

    @classmethod
    def start(cls, name: str, command: Sequence[str], log: Path) -> Process:
        with log.open("wb") as sink:
            popen = subprocess.Popen(
                list(command), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(name, log, popen)

    def check_alive(self) -> None:
        if self.popen.poll() is not None:
            raise ControlPlaneError(
                f"{self.name} exited with {self.popen.returncode}:\n{log_tail(self.log)}"
            )

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()


@dataclass
class ControlPlane:
    workdir: Path
    binaries: dict[str, Path]
    credentials: ControlPlaneCredentials = field(init=False)
    processes: list[Process] = field(default_factory=list)
    port: int = 0
    kubeconfig: Path = field(init=False)

    def start(self) -> None:
        self.credentials = generate(self.workdir / "pki")
        etcd_port, peer_port = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        # --unsafe-no-fsync: the store is thrown away with the test session, and fsyncs on a
        # shared disk would dominate the run.
        etcd = self._spawn(
            "etcd",
            [
                str(self.binaries["etcd"]),
                "--name=casedesk-k8s-test",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}",
                f"--initial-cluster=casedesk-k8s-test=http://127.0.0.1:{peer_port}",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )
        self._wait("etcd", etcd, lambda: _http_ok(f"{etcd_url}/health"))
        self.port = free_port()
        creds = self.credentials
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.binaries["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={creds.serving_cert}",
                f"--tls-private-key-file={creds.serving_key}",
                f"--client-ca-file={creds.ca_cert}",
                f"--service-account-key-file={creds.service_account_public_key}",
                f"--service-account-signing-key-file={creds.service_account_key}",
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                # Without it the API server keeps rewriting the `kubernetes` Service's endpoints
                # to an address it expects kubelets to reach, and loopback is refused for that.
                "--endpoint-reconciler-type=none",
                "--profiling=false",
            ],
        )
        self.kubeconfig = self._write_kubeconfig()
        self._wait("kube-apiserver", apiserver, self._ready)
        # The controllers turn the release's workloads into ReplicaSets, Pods and claims, so Pod
        # Security is enforced on the real pods, and the garbage collector and StatefulSet
        # controller do on uninstall what they do in a cluster. As the administrator (the
        # system:masters certificate), with no serving port: nothing here calls it.
        controllers = self._spawn(
            "kube-controller-manager",
            [
                str(self.binaries["kube-controller-manager"]),
                f"--kubeconfig={self.kubeconfig}",
                "--secure-port=0",
                "--leader-elect=false",
                f"--root-ca-file={creds.ca_cert}",
                f"--service-account-private-key-file={creds.service_account_key}",
                "--service-cluster-ip-range=10.96.0.0/16",
            ],
        )
        # Its ServiceAccount controller gives every namespace its `default` account.
        self._wait(
            "kube-controller-manager", controllers, lambda: self.has_default_account("default")
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{log_tail(p.log)}" for p in self.processes)

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.binaries["kubectl"]), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=COMMAND_TIMEOUT_S,
        )
        if check and done.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done

    def apply(self, *manifests: dict[str, Any], namespace: str | None = None) -> None:
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        self.kubectl(*args, stdin=yaml.safe_dump_all(manifests))

    def has_default_account(self, namespace: str) -> bool:
        found = self.kubectl("get", "-n", namespace, "serviceaccount", "default", check=False)
        return found.returncode == 0

    def get_json(self, *args: str) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.kubectl("get", "-o", "json", *args).stdout)
        return found

    def _spawn(self, name: str, command: list[str]) -> Process:
        process = Process.start(name, command, self.workdir / f"{name}.log")
        self.processes.append(process)
        return process

    def _wait(self, name: str, process: Process, ready: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            process.check_alive()
            if time.monotonic() > deadline:
                raise ControlPlaneError(
                    f"{name} not ready within {START_TIMEOUT_S:.0f} s:\n{log_tail(process.log)}"
                )
            time.sleep(0.5)

    def _ready(self) -> bool:
        """/readyz: every post-start hook done (RBAC roles, priority classes, system namespaces)."""
        creds = self.credentials
        context = ssl.create_default_context(cafile=str(creds.ca_cert))
        context.load_cert_chain(str(creds.admin_cert), str(creds.admin_key))
        return _http_ok(f"{self.url}/readyz", context)

    def _write_kubeconfig(self) -> Path:
        creds = self.credentials
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "loopback",
                    "cluster": {"server": self.url, "certificate-authority": str(creds.ca_cert)},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(creds.admin_cert),
                        "client-key": str(creds.admin_key),
                    },
                }
            ],
            "contexts": [{"name": "loopback", "context": {"cluster": "loopback", "user": "admin"}}],
            "current-context": "loopback",
        }
        path = self.workdir / "kubeconfig"
        path.write_text(yaml.safe_dump(config))
        # Helm warns about a group- or world-readable kubeconfig, and the tests refuse warnings.
        os.chmod(path, 0o600)
        return path


def _http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError):
        return False


def eventually(condition: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Wait for a controller to do its part; the message names what never happened."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise ControlPlaneError(f"{what}: not within {timeout_s:.0f} s")
        time.sleep(0.5)


class StandInKubelet:
    """Plays the kubelet for a hook Job's pods: marks each pod the Job controller created (and the
    API server admitted) as run to completion, so that the real Job controller completes the Job
    and Helm's hook flow (wait, then delete per hook-delete-policy) runs as in a cluster. The
    hook's command itself does not run: it needs the images and a Kafka broker. Used as a context
    manager around the helm command; `completed` lists the pods it finished."""

    def __init__(self, plane: ControlPlane, namespace: str, selector: str) -> None:
        self.plane, self.namespace, self.selector = plane, namespace, selector
        self.completed: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stand-in-kubelet", daemon=True)

    def __enter__(self) -> StandInKubelet:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            listing = self.plane.kubectl(
                "get", "-n", self.namespace, "pods", "-l", self.selector, "-o", "json", check=False
            )
            if listing.returncode != 0:
                continue
            for pod in json.loads(listing.stdout)["items"]:
                if pod["status"].get("phase") == "Pending":
                    self._complete(pod)

    def _complete(self, pod: dict[str, Any]) -> None:
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

        def exited(container: dict[str, Any]) -> dict[str, Any]:
            finished = {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}
            return {
                "name": container["name"],
                "image": container["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"terminated": finished},
            }

        spec = pod["spec"]
        status = {
            "phase": "Succeeded",
            "initContainerStatuses": [exited(c) for c in spec.get("initContainers", [])],
            "containerStatuses": [exited(c) for c in spec["containers"]],
        }
        name = pod["metadata"]["name"]
        patched = self.plane.kubectl(
            "patch",
            "-n",
            self.namespace,
            "pod",
            name,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
            check=False,
        )
        if patched.returncode == 0:
            self.completed.append(name)
