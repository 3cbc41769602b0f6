"""The chart, the images and the project agree: lint is clean, versions and ports match."""

from __future__ import annotations

import json
import re
import subprocess
import tomllib

import pytest
import yaml
from helmchart import CHART, MODULES, PORTS, REPO, SERVICES

from casedesk_deadlines import DEFAULT_POLICY_VERSION, policy_versions

# Shipped for the integration tests (deadlines of seconds); never a release's policy.
TEST_POLICIES = {"test-seconds"}


@pytest.mark.parametrize("values", ["minimal-values.yaml", "production-values.yaml"])
def test_helm_lint_strict(helm: str, values: str) -> None:
    linted = subprocess.run(
        [helm, "lint", "--strict", str(CHART), "--values", str(CHART / "ci" / values)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "[WARNING]" not in linted.stdout


def test_app_version_is_the_project_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == project


def test_chart_defaults_use_the_built_image_names_and_ports() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    for service in SERVICES:
        assert values["services"][service]["image"]["repository"] == f"casedesk/{service}"
        assert values["services"][service]["port"] == PORTS[service]


def test_policy_versions_are_the_shipped_production_policies() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    allowed = schema["properties"]["deadlines"]["properties"]["policyVersion"]["enum"]
    assert sorted(allowed) == sorted(set(policy_versions()) - TEST_POLICIES)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["deadlines"]["policyVersion"] == DEFAULT_POLICY_VERSION


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_matches_the_chart(service: str) -> None:
    dockerfile = (REPO / "services" / service / "Dockerfile").read_text()
    port = PORTS[service]
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.MULTILINE)
    assert f"CASEDESK_GRPC_PORT={port}" in dockerfile
    assert f'CMD ["python", "-m", "{MODULES[service]}"]' in dockerfile
    assert f'org.opencontainers.image.title="casedesk-{service}"' in dockerfile
    # The service image is its venv on the shared runtime base, which holds what the chart's pod
    # security context relies on: uid 10001 and /var/lib/casedesk as the working directory.
    stages = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert stages == ["casedesk/python-builder:bookworm", "casedesk/python-runtime:bookworm"]
    runtime = (REPO / "tools" / "infra" / "images" / "python-runtime" / "Dockerfile").read_text()
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    assert "WORKDIR /var/lib/casedesk" in runtime
