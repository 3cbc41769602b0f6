"""Issue 21: the chaos run's short version — one fault of each kind under steady load, then
nothing lost or doubled (tests/chaos/README.md; `make chaos` is the full run).

The whole system on a three-node Kafka cluster (replication 3, min.insync.replicas 2) and a
PostgreSQL server of its own, with chat cases, comments and status changes coming in through
intake and the case API, goes through: kill -9 of the case service alone, of intake and notify
together, of sla and escalation together; kill -9 of the broker leading case.events.v1
partitions; a PostgreSQL restart; every broker stopped for 20 s; the SMTP server refusing for
15 s. Each fault must be recovered from (a canary case goes the whole way). Then, checked with
the replay tool, the topics and the mail and SMS sinks: every acknowledged case exists once in
the store and on case.events.v1, every notice went out (duplicates only with a documented
cause), no SLA breach missed or doubled. The `CHAOS <metric> <value>` lines are printed.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from support.provisioning import SessionInfrastructure

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chaos"))  # chaoskit

from chaoskit.harness import run_chaos
from chaoskit.schedule import SHORT

pytestmark = pytest.mark.integration


@pytest.mark.timeout(1500)
async def test_one_fault_of_each_kind_loses_and_doubles_nothing(
    infrastructure: SessionInfrastructure,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    postgres, server = infrastructure.restartable_postgres()

    def say(line: str) -> None:
        with capsys.disabled():  # progress and figures belong in the CI log, pass or fail
            print(line, flush=True)

    kafka_log = logging.getLogger("aiokafka")
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)  # brokers go away on purpose: no news
    try:
        say("")
        report = await run_chaos(SHORT, postgres, server, tmp_path, say)
    finally:
        kafka_log.setLevel(level)
    say("\n".join(report.lines()))

    assert report.failures() == {}, f"lost, doubled or unrecovered: {report.failures()}"
    assert report.figures["faults_injected"] == len(SHORT.faults)
    # The run did what it is for: cases under load, notices and breaches to account for.
    assert report.figures["cases_acknowledged"] >= 100
    assert report.figures["notifications_expected"] >= 4 * report.figures["cases_acknowledged"]
    assert report.figures["breaches_expected"] >= report.figures["cases_acknowledged"] // 3
