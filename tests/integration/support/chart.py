"""Each service's environment as the Helm chart gives it, for running the images as a release does.

`chart_environments(values_file, secrets)` renders deploy/helm/casedesk with the pinned Helm
(tools/helm.sh, built once into the cache) and returns, per service, the variables of its
Deployment's or StatefulSet's container, resolved the way the kubelet resolves them: plain values
as rendered, `secretKeyRef` from `secrets` (the Secrets a release would find, by name and key), the
downward API's pod name and namespace, then `$(VAR)` references to earlier variables.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART = REPO_ROOT / "deploy" / "helm" / "casedesk"
RELEASE = "it"
NAMESPACE = "casedesk"
# The component label the chart gives every workload; its value is the service's name.
COMPONENT_LABEL = "app.kubernetes.io/component"

# Secret name -> key -> content.
Secrets = Mapping[str, Mapping[str, str]]
Manifest = dict[str, Any]

_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


class ChartError(RuntimeError):
    """Helm could not be built or refused the values, or an env entry cannot be resolved."""


def helm_binary() -> str:
    built = _run([str(REPO_ROOT / "tools" / "helm.sh")])
    return built.strip()


def render(values_file: Path) -> list[Manifest]:
    command = [helm_binary(), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    output = _run([*command, "--values", str(values_file)])
    return [manifest for manifest in yaml.safe_load_all(output) if manifest]


def chart_environments(values_file: Path, secrets: Secrets) -> dict[str, dict[str, str]]:
    """Service name -> its container's environment, as a pod of the release would see it."""
    environments = {}
    for workload in render(values_file):
        if workload["kind"] not in ("Deployment", "StatefulSet"):
            continue
        service = workload["metadata"]["labels"][COMPONENT_LABEL]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        pod = {
            "metadata.name": f"{workload['metadata']['name']}-0",
            "metadata.namespace": NAMESPACE,
        }
        environments[service] = container_environment(container.get("env", []), pod, secrets)
    return environments


def container_environment(
    entries: list[Manifest], pod_fields: Mapping[str, str], secrets: Secrets
) -> dict[str, str]:
    resolved: dict[str, str] = {}
    for entry in entries:
        name = entry["name"]
        if "value" in entry:
            resolved[name] = _expand(str(entry["value"]), resolved)
        else:
            resolved[name] = _value_from(name, entry["valueFrom"], pod_fields, secrets)
    return resolved


def _value_from(
    name: str, source: Manifest, pod_fields: Mapping[str, str], secrets: Secrets
) -> str:
    if "secretKeyRef" in source:
        ref = source["secretKeyRef"]
        try:
            return secrets[ref["name"]][ref["key"]]
        except KeyError:
            raise ChartError(
                f"{name} reads key {ref['key']!r} of Secret {ref['name']!r}, which the test "
                "does not provide"
            ) from None
    if "fieldRef" in source and source["fieldRef"]["fieldPath"] in pod_fields:
        return pod_fields[source["fieldRef"]["fieldPath"]]
    raise ChartError(f"{name}: unsupported valueFrom {source}")


def _expand(value: str, defined: Mapping[str, str]) -> str:
    """Kubernetes' dependent variables: $(NAME) of an earlier variable, $$ for a literal $."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return defined.get(match.group(1), match.group(0))

    return _REFERENCE.sub(substitute, value)


def _run(command: list[str]) -> str:
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ChartError(f"{' '.join(command[:2])} failed (exit {done.returncode}):\n{done.stderr}")
    return done.stdout
