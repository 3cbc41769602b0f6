"""Render the Casedesk chart with the pinned Helm and hand the manifests to the tests as dicts.

Helm comes from tools/helm.sh (built once into the cache directory). Value sets are written to
temporary files rather than passed with --set, so that types (ints, booleans) stay what YAML
says they are, as in a real values file.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

# The tests import their helpers from helmchart.py beside this file (importlib import mode).
sys.path.insert(0, str(Path(__file__).parent))

from helmchart import CHART, CI_VALUES, RELEASE, REPO, Release, RenderError


@pytest.fixture(scope="session")
def helm() -> str:
    built = subprocess.run(
        [str(REPO / "tools" / "helm.sh")], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return built.stdout.strip()


@pytest.fixture(scope="session")
def render(helm: str, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Release]:
    counter = iter(range(1_000_000))

    def _render(
        *value_files: str,
        values: dict[str, Any] | None = None,
        api_versions: tuple[str, ...] = (),
    ) -> Release:
        # api_versions: kinds the API server would serve beyond the built-in ones (CRDs), as
        # `group/version/Kind`, which helm install learns from the server.
        args = [helm, "template", RELEASE, str(CHART), "--namespace", "casedesk"]
        for kind in api_versions:
            args += ["--api-versions", kind]
        for name in value_files:
            args += ["--values", str(CI_VALUES / name)]
        if values is not None:
            extra = tmp_path_factory.mktemp("values") / f"values-{next(counter)}.yaml"
            extra.write_text(yaml.safe_dump(values, allow_unicode=True))
            args += ["--values", str(extra)]
        done = subprocess.run(args, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RenderError(done.stderr)
        return Release([m for m in yaml.safe_load_all(done.stdout) if m])

    return _render


@pytest.fixture(scope="session")
def minimal(render: Callable[..., Release]) -> Release:
    return render("minimal-values.yaml")


@pytest.fixture(scope="session")
def production(render: Callable[..., Release]) -> Release:
    return render("production-values.yaml")


@pytest.fixture(params=["minimal", "production"], scope="session")
def release(request: pytest.FixtureRequest) -> Release:
    rendered: Release = request.getfixturevalue(request.param)
    return rendered
