"""The protobuf mapping's fast paths give what the straightforward ones give."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from aiokafka.partitioner import DefaultPartitioner

from casedesk_case.adapters.outbox.partitioning import CaseKeyPartitioner
from casedesk_case.domain.values import ActorKind, ContactChannel, EscalationReason, Status
from casedesk_case.wire.enums import from_proto, to_proto
from casedesk_case.wire.timestamps import to_timestamp
from casedesk_runtime.events import to_timestamp as runtime_to_timestamp


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 1, 8, 30, 15, 123456, tzinfo=UTC),
        datetime(2026, 11, 1, 0, 0, 0, 999999, tzinfo=timezone(timedelta(hours=3))),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
    ],
)
def test_timestamps_equal_the_runtimes(moment: datetime) -> None:
    assert to_timestamp(moment) == runtime_to_timestamp(moment)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        to_timestamp(datetime(2026, 1, 1))


@pytest.mark.parametrize("enum_type", [Status, ActorKind, ContactChannel, EscalationReason])
def test_every_member_maps_to_its_number_and_back(enum_type: type) -> None:
    for member in enum_type:
        number = to_proto(member)
        back = from_proto(enum_type, number, "field", required=False)
        assert back is member or (back is None and number == 0)


def test_case_ids_go_to_the_default_partitioners_partition() -> None:
    ours, default = CaseKeyPartitioner(max_keys=10), DefaultPartitioner()
    partitions = list(range(6))
    keys = [str(uuid.uuid4()).encode() for _ in range(50)]
    for key in keys + keys:  # the second round from memory (and past its bound)
        assert ours(key, partitions, partitions) == default(key, partitions, partitions)
    assert ours(None, partitions, [4]) == 4
