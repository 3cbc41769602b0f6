"""Fuzzing (issue 21): the servers every gRPC target shares, and the FUZZ lines of the run.

The servers (fuzzkit/stack.py) start once per run; each target draws its inputs with hypothesis
(CASEDESK_FUZZ_EXAMPLES per target, fuzzkit/tally.py) and counts them; at the end the run prints
one `FUZZ <target> inputs=<n> failures=<n> ...` line per target, and the reproducers of any
failure (also in the failing test's own report), and writes them to CASEDESK_FUZZ_REPORT if set.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # fuzzkit (--import-mode=importlib)

from fuzzkit import tally
from fuzzkit.planting import Known, plant
from fuzzkit.stack import Stack

PLANT_TIMEOUT_S = 60.0


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("fuzz-stack")).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def known(stack: Stack) -> Known:
    return stack.run(plant(stack), PLANT_TIMEOUT_S)


def report_lines() -> list[str]:
    lines: list[str] = []
    for target in sorted(tally.TARGETS.values(), key=lambda t: t.name):
        lines.append(target.line())
        lines += [f"  failure: {reproducer}" for reproducer in target.reproducers]
        lines += [f"  known bug {bug}: {n} inputs" for bug, n in sorted(target.known.items())]
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The FUZZ lines; also written to CASEDESK_FUZZ_REPORT when set (`make fuzz`)."""
    if not tally.TARGETS:
        return
    lines = report_lines()
    terminalreporter.section("fuzzing")
    for line in lines:
        terminalreporter.write_line(line)
    report = os.environ.get("CASEDESK_FUZZ_REPORT")
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text("\n".join(lines) + "\n", encoding="utf-8")
