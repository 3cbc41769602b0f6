"""The access journal's records and their hash chain: who read which case, when, why, and how.

Every read of a case's personal data by a person becomes one record. Records are numbered from 1
without gaps, and each carries the SHA-256 of its own content together with the previous
record's hash, so changing, removing or reordering any record breaks every hash after it:
`verify_chain` finds the first record that does not fit. (Cutting records off the end leaves a
shorter chain that still fits; an operator who keeps the latest hash elsewhere sees that too.)

A record names the person (their username at the identity provider), never the citizen: the case
id is all it says about whose data was read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from casedesk_vocabulary.moscow import to_micros

GENESIS_HASH = "0" * 64  # the "previous hash" of record 1


@dataclass(frozen=True)
class AccessEntry:
    """One read, as the journal records it."""

    at: datetime
    person: str  # the identity provider's username
    role: str  # the roles the person held, e.g. "specialist L1"
    case_id: str
    purpose: str
    caller: str  # the service identity the read came through: desk, operator
    rpc: str  # GetCase, GetHistory, ListCases, WatchCase


@dataclass(frozen=True)
class AccessRecord:
    sequence: int  # 1, 2, 3, ... in the order appended
    entry: AccessEntry
    previous_hash: str
    record_hash: str


@dataclass(frozen=True)
class ChainCheck:
    records: int  # how many records were checked
    last_hash: str  # the hash of the last record checked (GENESIS_HASH for none)
    broken_at: int | None = None  # sequence of the first record that does not fit
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def record_hash(sequence: int, entry: AccessEntry, previous_hash: str) -> str:
    # JSON of a list: unambiguous field boundaries, whatever the fields contain.
    content = [
        sequence, to_micros(entry.at), entry.person, entry.role, entry.case_id, entry.purpose,
        entry.caller, entry.rpc, previous_hash,
    ]  # fmt: skip
    encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def chain(last: AccessRecord | None, entries: Sequence[AccessEntry]) -> list[AccessRecord]:
    """`entries` as the records that follow `last` (None: the journal is empty)."""
    sequence = last.sequence if last is not None else 0
    previous = last.record_hash if last is not None else GENESIS_HASH
    records = []
    for entry in entries:
        sequence += 1
        digest = record_hash(sequence, entry, previous)
        records.append(AccessRecord(sequence, entry, previous, digest))
        previous = digest
    return records


def verify_chain(records: Iterable[AccessRecord], after: AccessRecord | None = None) -> ChainCheck:
    """Check records read in sequence order, continuing from `after` (None: from the start)."""
    sequence = after.sequence if after is not None else 0
    previous = after.record_hash if after is not None else GENESIS_HASH
    count = 0
    for record in records:
        sequence += 1
        problem = ""
        if record.sequence != sequence:
            problem = f"expected record {sequence}, found {record.sequence}"
        elif record.previous_hash != previous:
            problem = "its previous hash is not the hash of the record before it"
        elif record_hash(record.sequence, record.entry, previous) != record.record_hash:
            problem = "its content does not match its hash"
        if problem:
            return ChainCheck(count, previous, broken_at=sequence, problem=problem)
        previous = record.record_hash
        count += 1
    return ChainCheck(count, previous)
