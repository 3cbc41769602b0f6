"""Fixtures of the chart-on-a-real-API-server tests (`make k8s-test`).

  control_plane -> ControlPlane: etcd and kube-apiserver on loopback for the session, with the
                   CustomResourceDefinitions the chart's values need (cert-manager's Certificate,
                   the Prometheus Operator's ServiceMonitor and PrometheusRule)
  helm          -> Helm: the pinned CLI, talking to that API server
  namespace     -> a fresh namespace enforcing and warning the `restricted` Pod Security standard

The binaries are built on first use by tools/k8s/build.sh (kube-apiserver takes minutes on two
cores; `make k8s-test` builds them before pytest starts, outside the per-test timeout).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

# The tests import their helpers from the modules beside this file (importlib import mode).
sys.path.insert(0, str(Path(__file__).parent))

from controlplane import REPO, ControlPlane, build_binaries, eventually
from helmcli import Helm, build_helm

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
}


def crd_files() -> list[Path]:
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "k8s" / "crds.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [Path(line) for line in done.stdout.split()]


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"), build_binaries())
    try:
        plane.start()
        for crd in crd_files():
            plane.kubectl("apply", "--server-side", "-f", str(crd))
            name = yaml.safe_load(crd.read_text())["metadata"]["name"]
            plane.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
        yield plane
    except Exception:
        print(plane.logs(), file=sys.stderr)
        raise
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def helm(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(build_helm(), control_plane.kubeconfig, tmp_path_factory.mktemp("helm-home"))


_namespaces = itertools.count(1)


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    """A new namespace under the restricted Pod Security standard (enforced, warned and audited),
    once the controller manager has given it its `default` ServiceAccount: the API server's
    ServiceAccount admission refuses every pod of a namespace without it."""
    name = f"casedesk-{next(_namespaces)}"
    control_plane.apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}
    )
    eventually(lambda: control_plane.has_default_account(name), f"ServiceAccount {name}/default")
    return name


@pytest.fixture
def values_file(tmp_path: Path) -> Callable[[str], Path]:
    """Writes a values file (YAML text) the way an SRE would hand it to helm."""
    counter = itertools.count(1)

    def write(text: str) -> Path:
        path = tmp_path / f"values-{next(counter)}.yaml"
        path.write_text(text)
        return path

    return write
