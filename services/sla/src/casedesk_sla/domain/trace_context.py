"""The W3C trace context a clock keeps, so its warning and breach stay in the case's trace.

An alarm fires long after the case event that set its clock running, from the timer, with no
request around it. The clock therefore keeps that event's `traceparent` and its alarm facts carry
it on. Kept as a string per clock it would cost a hundred bytes and an object; packed it is a
fixed 25 bytes in a table column: trace id (16), parent span id (8) and flags (1). All zeros
means none: W3C forbids an all-zero trace id.
"""

from __future__ import annotations

SIZE = 25
NONE = bytes(SIZE)
_HEX = frozenset("0123456789abcdef")


def pack(traceparent: str | None) -> bytes:
    """The packed context of a `traceparent` header; NONE when absent or not a valid one.

    A version newer than 00 is read by its first four fields, as the W3C recommendation asks,
    and is passed on as version 00.
    """
    if not traceparent or len(traceparent) < 55:
        return NONE
    parts = traceparent[:55].split("-")
    if len(parts) != 4:
        return NONE
    version, trace_id, span_id, flags = parts
    tail = traceparent[55:]
    if not (
        (len(version), len(trace_id), len(span_id), len(flags)) == (2, 32, 16, 2)
        and _is_hex(version + trace_id + span_id + flags)
        and version != "ff"  # forbidden
        and (not tail if version == "00" else tail[:1] in ("", "-"))
    ):
        return NONE
    packed = bytes.fromhex(trace_id + span_id + flags)
    if not any(packed[:16]) or not any(packed[16:24]):
        return NONE
    return packed


def unpack(packed: bytes) -> str | None:
    """The `traceparent` header of a packed context, or None for NONE."""
    if packed == NONE:
        return None
    text = packed.hex()
    return f"00-{text[:32]}-{text[32:48]}-{text[48:]}"


def _is_hex(text: str) -> bool:
    return _HEX.issuperset(text)
