"""The key store's table and statements, shared by SQLite and PostgreSQL (`{p}`: the driver's
placeholder, `{blob}`: its bytes type).

One row per (subject, generation): a live key holds its wrapped bytes and the KEK version they
are wrapped under; an erased one holds none, only when, by whom and why (its tombstone). One
table, so the primary key alone makes creation and erasure race-safe: a key made at the moment
of an erasure is either erased by it or refused by the tombstone it left.

MIGRATIONS[n - 1] brings a store from schema version n - 1 to n; a store newer than this build
is refused rather than misread.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from casedesk_keys.data_keys import StoredKey, Tombstone, WrappedKey
from casedesk_keys.subjects import SubjectId

TABLE = "casedesk_data_keys"
VERSION_TABLE = "casedesk_keys_schema"

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        f"""
        CREATE TABLE {TABLE} (
            subject TEXT NOT NULL,
            generation INTEGER NOT NULL CHECK (generation >= 1),
            created_at DOUBLE PRECISION NOT NULL,
            kek_id TEXT,
            wrapped {{blob}},
            erased_at DOUBLE PRECISION,
            erased_by TEXT,
            erasure_reason TEXT,
            PRIMARY KEY (subject, generation),
            CHECK ((wrapped IS NULL) = (kek_id IS NULL)),
            CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
        )
        """,
        f"CREATE INDEX {TABLE}_by_kek ON {TABLE} (kek_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

CREATE_VERSION_TABLE = f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)"
READ_VERSION = f"SELECT max(version) FROM {VERSION_TABLE}"
RECORD_VERSION = f"INSERT INTO {VERSION_TABLE} (version) VALUES ({{p}})"

_COLUMNS = "subject, generation, created_at, kek_id, wrapped, erased_at, erased_by, erasure_reason"
LATEST = f"SELECT {_COLUMNS} FROM {TABLE} WHERE subject = {{p}} ORDER BY generation DESC LIMIT 1"
GET = f"SELECT {_COLUMNS} FROM {TABLE} WHERE subject = {{p}} AND generation = {{p}}"
ADD = f"""
    INSERT INTO {TABLE} (subject, generation, created_at, kek_id, wrapped)
    VALUES ({{p}}, {{p}}, {{p}}, {{p}}, {{p}})
    ON CONFLICT (subject, generation) DO NOTHING
"""
# Generation 1 exists whenever the subject ever had a key: a tombstone there for a subject that
# had none, so that no key can be made for it afterwards.
ERASE_UNKNOWN = f"""
    INSERT INTO {TABLE} (subject, generation, created_at, erased_at, erased_by, erasure_reason)
    VALUES ({{p}}, 1, {{p}}, {{p}}, {{p}}, {{p}})
    ON CONFLICT (subject, generation) DO NOTHING
"""
ERASE = f"""
    UPDATE {TABLE}
    SET wrapped = NULL, kek_id = NULL, erased_at = {{p}}, erased_by = {{p}}, erasure_reason = {{p}}
    WHERE subject = {{p}} AND wrapped IS NOT NULL
"""
NOT_UNDER = f"""
    SELECT {_COLUMNS} FROM {TABLE}
    WHERE wrapped IS NOT NULL AND kek_id <> {{p}} AND (subject, generation) > ({{p}}, {{p}})
    ORDER BY subject, generation LIMIT {{p}}
"""
REWRAP = f"""
    UPDATE {TABLE} SET kek_id = {{p}}, wrapped = {{p}}
    WHERE subject = {{p}} AND generation = {{p}} AND kek_id = {{p}} AND wrapped = {{p}}
"""
COUNTS = f"SELECT kek_id, count(*) FROM {TABLE} WHERE wrapped IS NOT NULL GROUP BY kek_id"


def statements(placeholder: str, blob: str) -> dict[str, str]:
    named = {
        "latest": LATEST,
        "get": GET,
        "add": ADD,
        "erase_unknown": ERASE_UNKNOWN,
        "erase": ERASE,
        "not_under": NOT_UNDER,
        "rewrap": REWRAP,
        "counts": COUNTS,
        "record_version": RECORD_VERSION,
    }
    return {name: sql.format(p=placeholder, blob=blob) for name, sql in named.items()}


def after_key(after: tuple[SubjectId, int] | None) -> tuple[str, int]:
    """The rotation's cursor as (subject, generation) values; before everything when None."""
    return ("", 0) if after is None else (str(after[0]), after[1])


def epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("instants in the key store are timezone-aware")
    return moment.timestamp()


def stored_key(row: tuple[Any, ...]) -> StoredKey:
    subject_text, generation, created_at, kek_id, wrapped, erased_at, erased_by, reason = row
    subject = SubjectId.from_text(subject_text)
    tombstone = None
    if erased_at is not None:
        when = datetime.fromtimestamp(erased_at, UTC)
        tombstone = Tombstone(subject, generation, when, erased_by, reason)
    return StoredKey(
        subject=subject,
        generation=generation,
        created_at=datetime.fromtimestamp(created_at, UTC),
        wrapped=None if wrapped is None else WrappedKey(kek_id, bytes(wrapped)),
        tombstone=tombstone,
    )
