"""Instants as protobuf Timestamps: the runtime's one conversion, named where the wire looks."""

from __future__ import annotations

from casedesk_runtime.events import from_timestamp, to_timestamp

__all__ = ["from_timestamp", "to_timestamp"]
