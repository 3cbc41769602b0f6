"""Protobuf Timestamps <-> integer microseconds (the SLA domain's instants): the runtime's one
conversion, named where the wire looks."""

from __future__ import annotations

from casedesk_runtime.events import micros_of, stamp, timestamp_of

__all__ = ["micros_of", "stamp", "timestamp_of"]
