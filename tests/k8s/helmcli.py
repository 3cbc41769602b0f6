"""The pinned Helm CLI (tools/helm.sh) against the loopback control plane, with a private home so
that neither the tests nor the user's Helm configuration see each other."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "casedesk"
CI_VALUES = CHART / "ci"
HELM_TIMEOUT_S = 180.0


def build_helm() -> Path:
    done = subprocess.run(
        ["bash", str(REPO / "tools" / "helm.sh")], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"tools/helm.sh failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip())


@dataclass(frozen=True)
class Helm:
    binary: Path
    kubeconfig: Path
    home: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=HELM_TIMEOUT_S,
        )

    def manifests(self, what: str, release: str, namespace: str) -> list[dict[str, Any]]:
        """`helm get manifest|hooks`: the objects the release stored, as dicts."""
        done = self.run("get", what, release, "-n", namespace)
        assert done.returncode == 0, done.stderr
        return [m for m in yaml.safe_load_all(done.stdout) if m]

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        done = self.run("history", release, "-n", namespace, "-o", "json")
        assert done.returncode == 0, done.stderr
        loaded: list[dict[str, Any]] = yaml.safe_load(done.stdout)
        return loaded
