"""Domain enums <-> protobuf enum numbers: the runtime's one mapping, named where the wire looks."""

from __future__ import annotations

from casedesk_runtime.enum_numbers import from_proto, known, to_proto

__all__ = ["from_proto", "known", "to_proto"]
