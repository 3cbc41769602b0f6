"""The analysts' replay on a real Kafka broker: a few thousand synthetic cases produced as the
services would (case, SLA, notification and escalation topics), exported by `casedesk-replay`,
and counted back; no consumer group may appear or commit anything.

The topics carry a unique prefix: the services started by other tests of the session consume the
real topics and would add events of their own to the counts.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from casedesk_replay.cli import main
from casedesk_replay.topics import Stream, TopicMap
from casedesk_replay_testing.synthetic import Scenario, generate
from casedesk_replay_testing.synthetic.publish import publish

pytestmark = pytest.mark.integration


async def _group_offsets(bootstrap: str) -> dict[str, set[str]]:
    """Every consumer group of the cluster and the topics it has committed offsets for."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [group[0] for group in await admin.list_consumer_groups()]
        return {
            group: {tp.topic for tp in await admin.list_consumer_group_offsets(group)}
            for group in groups
        }
    finally:
        await admin.close()


def _replay(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main([*argv, "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _counts(table_path: Path, column: str) -> Counter[object]:
    return Counter(pq.read_table(table_path, columns=[column]).column(column).to_pylist())


@pytest.fixture(scope="module")
def produced(kafka_bootstrap: str) -> tuple[TopicMap, Scenario]:
    scenario = generate(3000, seed=90210)
    topics = TopicMap(prefix=f"it-replay-{uuid.uuid4().hex[:8]}.")
    asyncio.run(publish(kafka_bootstrap, topics, scenario))
    return topics, scenario


def test_exported_counts_match_what_was_produced_and_no_group_appears(
    kafka_bootstrap: str,
    produced: tuple[TopicMap, Scenario],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    topics, scenario = produced
    expected = scenario.expected
    groups_before = asyncio.run(_group_offsets(kafka_bootstrap))

    out = tmp_path / "tables"
    _replay(capsys, "export", "--bootstrap", kafka_bootstrap, "--topic-prefix", topics.prefix,
            "--out", str(out))  # fmt: skip

    assert _counts(out / "cases.parquet", "status") == expected.statuses
    assert sum(_counts(out / "status_transitions.parquet", "to_status").values()) == (
        expected.transitions
    )
    breached = pq.read_table(out / "sla_outcomes.parquet").column("breached_at")
    assert breached.length() - breached.null_count == expected.breaches
    escalations = pq.read_table(out / "escalations.parquet").to_pylist()
    assert Counter(row["source"] for row in escalations) == {
        "ESCALATED": expected.escalated,
        "REQUESTED": expected.escalation_requests,
        "DECIDED": sum(expected.decisions.values()),
    }
    decided = Counter(row["accepted"] for row in escalations if row["source"] == "DECIDED")
    assert decided == expected.decisions
    assert _counts(out / "notifications.parquet", "state") == expected.notifications

    groups_after = asyncio.run(_group_offsets(kafka_bootstrap))
    assert groups_after.keys() == groups_before.keys()
    ours = {topics.topic(stream) for stream in Stream}
    assert not any(committed & ours for committed in groups_after.values())


def test_a_case_is_rebuilt_as_of_a_moment_from_its_partition(
    kafka_bootstrap: str, produced: tuple[TopicMap, Scenario], capsys: pytest.CaptureFixture[str]
) -> None:
    topics, scenario = produced
    escalated = next(e for e in scenario.case_events if e.HasField("escalated"))
    before = escalated.meta.occurred_at.ToDatetime(tzinfo=UTC).replace(microsecond=0)
    view = json.loads(
        _replay(
            capsys,
            "case",
            escalated.meta.case_id,
            "--bootstrap",
            kafka_bootstrap,
            "--topic-prefix",
            topics.prefix,
            "--as-of",
            before.isoformat(),
        )
    )
    assert view["tier"] == "L1"
    assert view["version"] == escalated.meta.case_version - 1
    now = json.loads(
        _replay(
            capsys,
            "case",
            escalated.meta.case_id,
            "--bootstrap",
            kafka_bootstrap,
            "--topic-prefix",
            topics.prefix,
        )
    )
    assert now["tier"] == "L2"
    assert now["sla"] and now["notifications"]


def test_time_ranges_and_checkpoints_read_only_what_is_new(
    kafka_bootstrap: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topics = TopicMap(prefix=f"it-replay-{uuid.uuid4().hex[:8]}.")
    first = generate(60, seed=1)
    # Another year, so the second batch's case numbers (and ids) differ from the first's.
    second = generate(90, seed=2, start=datetime(2026, 3, 2, 6, tzinfo=UTC))
    asyncio.run(publish(kafka_bootstrap, topics, first))
    checkpoint = tmp_path / "replay.checkpoint"
    common = ["--bootstrap", kafka_bootstrap, "--topic-prefix", topics.prefix, "--json"]
    report = json.loads(_replay(capsys, "report", *common, "--checkpoint", str(checkpoint)))
    assert sum(report["events"].values()) == first.total_events

    time.sleep(1.1)  # record timestamps are milliseconds: keep the batches apart
    between = datetime.now(UTC)
    time.sleep(0.1)
    asyncio.run(publish(kafka_bootstrap, topics, second))

    since = json.loads(_replay(capsys, "report", *common, "--since", between.isoformat()))
    assert sum(since["events"].values()) == second.total_events
    resumed_out = _replay(capsys, "report", *common, "--checkpoint", str(checkpoint))
    resumed = json.loads(resumed_out)
    assert sum(resumed["events"].values()) == first.total_events + second.total_events
    overall = next(row for row in resumed["repeats"] if row["channel"] == "ALL")
    assert overall["cases"] == first.expected.cases + second.expected.cases
