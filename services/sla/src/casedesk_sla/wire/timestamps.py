"""Protobuf Timestamps <-> integer microseconds, the domain's instants.

Integer arithmetic on the fields, never through a datetime: every consumed case event and every
encoded SLA event goes through here, several times each.
"""

from __future__ import annotations

from google.protobuf import timestamp_pb2

from casedesk_sla.domain import Micros


def micros_of(stamp: timestamp_pb2.Timestamp) -> Micros:
    return stamp.seconds * 1_000_000 + stamp.nanos // 1_000


def timestamp_of(micros: Micros) -> timestamp_pb2.Timestamp:
    seconds, rest = divmod(micros, 1_000_000)
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=rest * 1_000)


def stamp(target: timestamp_pb2.Timestamp, micros: Micros) -> None:
    """Set `target` (a field of a message being built) to `micros`, in place."""
    # Setting fields in place: encoding runs once per SLA event, building and copying a
    # Timestamp per field was a third of the cost.
    target.seconds, rest = divmod(micros, 1_000_000)
    target.nanos = rest * 1_000
