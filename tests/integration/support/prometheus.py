"""A real Prometheus on loopback, scraping the targets a test names, and its query API.

The binaries (prometheus, promtool) are built from the Go module proxy by
tools/prometheus/build.sh (cached in ~/.cache/casedesk/bin after the first build). Each
`Prometheus` has its own data directory and port; it scrapes, and evaluates the rule files it is
given, every second, so a test's scenario shows in its queries and alerts within seconds.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
SCRAPE_INTERVAL_S = 1


def prometheus_binary(name: str = "prometheus") -> Path:
    """The cached build of `name` (prometheus or promtool), or a fresh one: minutes, the first
    time on a machine."""
    built = subprocess.run(
        ["bash", str(REPO / "tools/prometheus/build.sh"), name],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(built.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    value: float


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expression: str) -> list[Sample]:
        """An instant query; the vector's samples (a scalar answers one sample without labels).
        A query Prometheus refuses (bad PromQL) raises AssertionError with its error."""
        address = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        try:
            with urllib.request.urlopen(address, timeout=10) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as refused:  # 400/422: the expression's error in the body
            answer = json.load(refused)
        if answer["status"] != "success":
            raise AssertionError(f"Prometheus refused {expression!r}: {answer}")
        data = answer["data"]
        if data["resultType"] == "scalar":
            return [Sample({}, float(data["result"][1]))]
        return [Sample(r["metric"], float(r["value"][1])) for r in data["result"]]

    def value(self, expression: str) -> float | None:
        """The single sample's value, or None when the vector is empty."""
        samples = self.query(expression)
        if len(samples) > 1:
            raise AssertionError(f"{expression!r} answered {len(samples)} samples, not one")
        return samples[0].value if samples else None

    def wait_for(
        self,
        expression: str,
        accept: Callable[[list[Sample]], bool],
        timeout_s: float = 60.0,
    ) -> list[Sample]:
        """Query until `accept` holds (scrapes and rate windows take seconds); the last answer."""
        deadline = time.monotonic() + timeout_s
        while True:
            samples = self.query(expression)
            if accept(samples):
                return samples
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{expression!r} still answered {samples} after {timeout_s:.0f} s"
                )
            time.sleep(0.5)

    def targets(self) -> list[dict[str, object]]:
        return list(self._get("targets")["activeTargets"])

    def rule_groups(self) -> list[dict[str, Any]]:
        """The loaded rule groups, each rule with its `health`, `lastError` and (alerts) the
        `alerts` pending or firing."""
        return list(self._get("rules")["groups"])

    def label_sets(self) -> list[dict[str, str]]:
        """Every series' labels (its name as `__name__`) present now."""
        return list(self._get("series?" + urllib.parse.urlencode({"match[]": '{__name__!=""}'})))

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}", timeout=10) as response:
            answer = json.load(response)
        if answer["status"] != "success":
            raise AssertionError(f"Prometheus answered /api/v1/{path} with {answer}")
        return answer["data"]


@contextmanager
def running_prometheus(
    binary: Path,
    jobs: Mapping[str, list[str]],
    directory: Path,
    rule_files: Sequence[Path] = (),
) -> Iterator[Prometheus]:
    """Prometheus scraping `jobs` (job name -> host:port targets serving /metrics) and
    evaluating `rule_files` (Prometheus rule files: recording and alerting rules)."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(
        json.dumps(  # JSON is YAML
            {
                "global": {
                    "scrape_interval": f"{SCRAPE_INTERVAL_S}s",
                    "evaluation_interval": f"{SCRAPE_INTERVAL_S}s",
                },
                "rule_files": [str(path) for path in rule_files],
                "scrape_configs": [
                    {"job_name": job, "static_configs": [{"targets": targets}]}
                    for job, targets in jobs.items()
                ],
            }
        )
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (directory / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    prometheus = Prometheus(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{prometheus.url}/-/ready", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Prometheus did not become ready; see {directory / 'prometheus.log'}"
                    ) from None
                time.sleep(0.2)
        yield prometheus
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
