"""The erasure journal where the key store is (CASEDESK_KEYS_STORE_URL): the same database, so
one backup holds tombstones and their journal together. Drivers are imported only when chosen."""

from __future__ import annotations

from pathlib import Path

from casedesk_keyservice.application import ErasureJournal


def open_journal(store_url: str) -> ErasureJournal:
    if store_url.startswith(("postgresql://", "postgres://")):
        from casedesk_keyservice.adapters.postgres_journal import PostgresErasureJournal

        return PostgresErasureJournal.open(store_url)
    from casedesk_keyservice.adapters.sqlite_journal import SqliteErasureJournal

    path = Path(store_url.removeprefix("sqlite://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteErasureJournal(path)
