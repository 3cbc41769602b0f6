"""The erasure journal's table and statements, shared by SQLite and PostgreSQL (`{p}`: the
driver's placeholder).

One row per erased (subject, generation), in the key store's database: who erased (`erased_by`,
through which service: `caller`), when and why, as the tombstone says. The unique key makes a
repeated or concurrent erasure of a subject journal it once. It holds no identifier in clear:
subjects are pseudonyms, reasons references.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from casedesk_keys import SubjectId, Tombstone
from casedesk_keyservice.domain import ErasureRecord

TABLE = "casedesk_key_erasures"
_COLUMNS = "position, subject, generation, erased_at, erased_by, caller, reason"


def create_table(position_column: str) -> str:
    return f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            position {position_column},
            subject TEXT NOT NULL,
            generation INTEGER NOT NULL CHECK (generation >= 1),
            erased_at DOUBLE PRECISION NOT NULL,
            erased_by TEXT NOT NULL,
            caller TEXT NOT NULL,
            reason TEXT NOT NULL,
            journaled_at DOUBLE PRECISION NOT NULL,
            UNIQUE (subject, generation)
        )
    """


def statements(placeholder: str) -> dict[str, str]:
    p = placeholder
    return {
        "insert": f"""
            INSERT INTO {TABLE}
                (subject, generation, erased_at, erased_by, caller, reason, journaled_at)
            VALUES ({p}, {p}, {p}, {p}, {p}, {p}, {p})
            ON CONFLICT (subject, generation) DO NOTHING
        """,
        "get": f"SELECT {_COLUMNS} FROM {TABLE} WHERE subject = {p} AND generation = {p}",
        "after": f"SELECT {_COLUMNS} FROM {TABLE} WHERE position > {p} ORDER BY position LIMIT {p}",
        "head": f"SELECT coalesce(max(position), 0) FROM {TABLE}",
        "count": f"SELECT count(*) FROM {TABLE}",
    }


def insert_values(tombstone: Tombstone, caller: str) -> tuple[object, ...]:
    return (
        str(tombstone.subject),
        tombstone.generation,
        tombstone.erased_at.timestamp(),
        tombstone.erased_by,
        caller,
        tombstone.reason,
        datetime.now(UTC).timestamp(),
    )


def record_of(row: tuple[Any, ...]) -> ErasureRecord:
    position, subject, generation, erased_at, erased_by, caller, reason = row
    return ErasureRecord(
        position=int(position),
        subject=SubjectId.from_text(subject),
        generation=int(generation),
        erased_at=datetime.fromtimestamp(erased_at, UTC),
        erased_by=erased_by,
        caller=caller,
        reason=reason,
    )
