"""Reading the whole of case.events.v1 (or a file of it) for the what-if command."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf import json_format

from casedesk.case.v1 import events_pb2 as case_events
from casedesk_runtime.kafka import connection_config
from casedesk_runtime.settings import ServiceSettings
from casedesk_runtime.topics import existing_partitions


async def read_topic(settings: ServiceSettings, topic: str) -> list[list[case_events.CaseEvent]]:
    """Every event of every partition up to the end offsets seen at the start, per partition."""
    consumer = AIOKafkaConsumer(
        **connection_config(settings), enable_auto_commit=False, isolation_level="read_committed"
    )
    numbers = (await existing_partitions([topic], **connection_config(settings))).get(topic, [])
    if not numbers:
        raise LookupError(f"topic {topic} does not exist")
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, number) for number in numbers]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        raw: dict[TopicPartition, list[bytes]] = {tp: [] for tp in partitions}
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                raw[tp].extend(r.value for r in records if r.offset < ends[tp])
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return [[case_events.CaseEvent.FromString(value) for value in raw[tp]] for tp in partitions]


def read_file(path: str | Path) -> Iterator[case_events.CaseEvent]:
    """A file of case events, one protobuf-JSON `CaseEvent` per line, in log order."""
    with Path(path).open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json_format.Parse(line, case_events.CaseEvent())
            except json_format.ParseError as error:
                raise ValueError(
                    f"{path}:{number}: not a CaseEvent in protobuf JSON: {error}"
                ) from None
