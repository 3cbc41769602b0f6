"""Stable ids of SLA facts: the same fact always gets the same id, in the service and in a replay.

A fact is identified by (case, target, kind, due instant), the deduplication key the consumers of
sla.events.v1 rely on. Pause and resume add the run number, because a pause over a weekend under
a working-day unit can leave the due instant unchanged and then repeat it.
"""

from __future__ import annotations

import hashlib
import uuid

from casedesk_sla.domain.facts import SlaKind
from casedesk_sla.domain.instants import Micros
from casedesk_vocabulary.enums import DeadlineTarget

# Fixed forever: changing it would give every fact a new id and defeat deduplication downstream.
NAMESPACE = uuid.UUID("0b7a4d52-8f1e-4c3a-9a65-2d9e7c41f803")
_NAMESPACE_BYTES = NAMESPACE.bytes
_RUN_SCOPED = frozenset({SlaKind.PAUSED, SlaKind.RESUMED})


def fact_id(case_id: str, target: DeadlineTarget, kind: SlaKind, due: Micros, run: int = 0) -> str:
    key = f"{case_id}/{target.value}/{kind.value}/{due}"
    if kind in _RUN_SCOPED:
        key += f"/{run}"
    return _uuid5(key)


def _uuid5(name: str) -> str:
    """`str(uuid.uuid5(NAMESPACE, name))` without the UUID object: ids are made per fact, and
    on a replay of millions of events the object's validation is a measurable share."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def schedule_id(case_id: str, target: DeadlineTarget, due: Micros, run: int) -> str:
    """Id of the fact that set a clock's current due instant: its start, or its latest resume."""
    if run == 0:
        return fact_id(case_id, target, SlaKind.STARTED, due)
    return fact_id(case_id, target, SlaKind.RESUMED, due, run)
