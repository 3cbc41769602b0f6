"""Rotating the key-encryption key without rewriting a single event.

Tokens are sealed with data keys, and only the data keys' wrapping depends on the KEK. A
rotation is therefore: a new KEK version (current from then on, so keys made meanwhile are
wrapped under it), every stored data key re-wrapped under it, and the old version retired once
no key depends on it. Re-wrapping is resumable and safe to rerun: it only looks at keys still
under another version, and replaces a wrapped key only if the row still holds what was read
(an erasure or another rotation that came first wins; an erased key is never written back).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from casedesk_keys.errors import KeysError
from casedesk_keys.ports import KekProvider, KeyStore

DEFAULT_BATCH = 500


class RetireRefused(KeysError):
    """The KEK version is current, or data keys are still wrapped under it."""


@dataclass(frozen=True, slots=True)
class RotationReport:
    kek_id: str  # the version every key was re-wrapped under
    rewrapped: int
    skipped: int  # erased or re-wrapped by someone else between the read and the write
    remaining: int  # still under an older version (made by a process that had not seen it yet)


def start_rotation(kek: KekProvider) -> str:
    """The first step: a new KEK version, current from now on."""
    return kek.create_version()


def rewrap_all(
    store: KeyStore,
    kek: KekProvider,
    batch: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Re-wrap every live data key that is not under the current version."""
    if batch < 1:
        raise ValueError("a rotation batch holds at least one key")
    target = kek.current_kek_id()
    rewrapped = skipped = 0
    after = None
    while rows := store.wrapped_not_under(target, after, batch):
        for row in rows:
            assert row.wrapped is not None  # only live keys are listed
            new = kek.wrap(kek.unwrap(row.wrapped))
            if new.kek_id != target:  # a newer version appeared meanwhile: its rotation's work
                target = new.kek_id
            if store.rewrap(row.subject, row.generation, row.wrapped, new):
                rewrapped += 1
            else:
                skipped += 1
        after = (rows[-1].subject, rows[-1].generation)
        if progress is not None:
            progress(rewrapped)
    remaining = sum(n for k, n in store.counts_by_kek().items() if k != target)
    return RotationReport(target, rewrapped, skipped, remaining)


def retire(store: KeyStore, kek: KekProvider, kek_id: str) -> None:
    """The last step: destroy an old KEK version, refused while it is current or still wraps a
    data key (destroying it then would erase those citizens by accident)."""
    if kek_id == kek.current_kek_id():
        raise RetireRefused(f"{kek_id} is the current key-encryption key")
    still = store.counts_by_kek().get(kek_id, 0)
    if still:
        raise RetireRefused(f"{still} data keys are still wrapped under {kek_id}: rewrap first")
    kek.retire(kek_id)
