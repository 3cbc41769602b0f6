"""The keys' state for operators: KEK versions and how many data keys each wraps (a rotation's
progress: `python -m casedesk_keys rotate` moves them to the newest), erasures journaled."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from casedesk_keys import Keyring
from casedesk_keyservice.application.ports import ErasureJournal


@dataclass(frozen=True)
class KekVersionView:
    kek_id: str
    current: bool
    held: bool  # the provider holds it (False: keys name a version retired too early)
    data_keys: int


@dataclass(frozen=True)
class KeyStatusView:
    kek_provider: str
    versions: list[KekVersionView]
    erasures: int
    last_position: int


async def key_status(keyring: Keyring, journal: ErasureJournal, provider: str) -> KeyStatusView:
    return await asyncio.to_thread(_status, keyring, journal, provider)


def _status(keyring: Keyring, journal: ErasureJournal, provider: str) -> KeyStatusView:
    counts, held, current = (
        keyring.store.counts_by_kek(),
        keyring.kek.kek_ids(),
        keyring.kek.current_kek_id(),
    )
    ids = sorted(set(held) | set(counts), key=_version_order)
    versions = [
        KekVersionView(kek_id, kek_id == current, kek_id in held, counts.get(kek_id, 0))
        for kek_id in ids
    ]
    return KeyStatusView(provider, versions, journal.count(), journal.head())


def _version_order(kek_id: str) -> tuple[str, int]:
    """`label.v10` after `label.v9`."""
    label, _, version = kek_id.rpartition(".v")
    return (label, int(version)) if version.isdigit() else (kek_id, 0)
